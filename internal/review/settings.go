package review

import (
	"errors"
	"fmt"
	"time"
)

// ReviewSettings is the review: section of uar.yaml (DESIGN §5).
type ReviewSettings struct {
	// WindowDays is how long owners have to decide, from the first publish.
	WindowDays int `mapstructure:"window_days" yaml:"window_days"`
	// RemindDays are the days before the deadline on which remind nudges.
	RemindDays []int `mapstructure:"remind_days" yaml:"remind_days"`
	// CertifyAllCoversHigh lets CERTIFY: all certify accesses with an open
	// HIGH finding (the rubber-stamp guard is on when false).
	CertifyAllCoversHigh bool `mapstructure:"certify_all_covers_high" yaml:"certify_all_covers_high"`
}

// DefaultReviewSettings are the review: defaults.
func DefaultReviewSettings() ReviewSettings {
	return ReviewSettings{WindowDays: 30, RemindDays: []int{7, 3, 1}}
}

// Validate checks the values; errors name the key.
func (s ReviewSettings) Validate() error {
	var errs []error
	if s.WindowDays < 1 {
		errs = append(errs, errors.New("review.window_days: must be at least 1"))
	}
	for i, d := range s.RemindDays {
		if d < 0 || d > 365 {
			errs = append(errs, fmt.Errorf("review.remind_days[%d]: %d is out of range 0..365", i, d))
		}
	}
	return errors.Join(errs...)
}

// SnapshotSettings is the snapshot: section.
type SnapshotSettings struct {
	// MaxImportAge refuses imports exported longer ago than this at
	// snapshot time (unless the gap is accepted explicitly).
	MaxImportAge time.Duration `mapstructure:"max_import_age" yaml:"max_import_age"`
}

// DefaultSnapshotSettings are the snapshot: defaults.
func DefaultSnapshotSettings() SnapshotSettings {
	return SnapshotSettings{MaxImportAge: 168 * time.Hour}
}

// Validate checks the values; errors name the key.
func (s SnapshotSettings) Validate() error {
	if s.MaxImportAge <= 0 {
		return errors.New("snapshot.max_import_age: must be positive")
	}
	return nil
}

// RevokeSettings is the revoke: section.
type RevokeSettings struct {
	// MaxPerRun is the blast-radius cap: more planned removals need --max.
	MaxPerRun int `mapstructure:"max_per_run" yaml:"max_per_run"`
}

// DefaultRevokeSettings are the revoke: defaults.
func DefaultRevokeSettings() RevokeSettings { return RevokeSettings{MaxPerRun: 25} }

// Validate checks the values; errors name the key.
func (s RevokeSettings) Validate() error {
	if s.MaxPerRun < 1 {
		return errors.New("revoke.max_per_run: must be at least 1")
	}
	return nil
}
