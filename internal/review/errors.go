package review

import "fmt"

// PrerequisiteError means the review is not ready for the step: no
// snapshot yet, no scoring, a scoring older than the snapshot. Nothing was
// written; Hint says which command to run first. cli maps it to exit 2.
type PrerequisiteError struct {
	Msg  string
	Hint string
}

func (e *PrerequisiteError) Error() string { return e.Msg }

func prerequisite(hint, format string, args ...any) error {
	return &PrerequisiteError{Msg: fmt.Sprintf(format, args...), Hint: hint}
}

// SettingError is a configuration value the outside world refused or that
// cannot work (an unknown Jira project, a Confluence space that does not
// exist, a system without owner). Key names the setting (Err's text names
// it too). cli maps it to exit 2.
type SettingError struct {
	Key  string
	Err  error
	Hint string
}

func (e *SettingError) Error() string { return "config: " + e.Err.Error() }
func (e *SettingError) Unwrap() error { return e.Err }

func errorf(format string, args ...any) error { return fmt.Errorf(format, args...) }
