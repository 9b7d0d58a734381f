package review

import (
	"context"

	"github.com/uar-dev/uar/internal/store"
)

// PublicationIndex is what earlier runs published for a review, as the
// store recorded it: the review page, its child pages by title, one ticket
// per system and the Slack summary. Re-runs update these objects instead
// of creating new ones, and later steps (revoke's panel, the decision
// comments, remind's nudges) find their targets here.
type PublicationIndex struct {
	Page     *store.Publication
	Children map[string]store.Publication // by title
	Tickets  map[string]store.Publication // by system
	Message  *store.Publication
}

// LoadPublications indexes the review's current publications.
func LoadPublications(ctx context.Context, st *store.Store, review string) (*PublicationIndex, error) {
	prior, err := st.CurrentPublications(ctx, review)
	if err != nil {
		return nil, err
	}
	return indexPublications(prior), nil
}

// indexPublications indexes rows in id order (a later row wins).
func indexPublications(prior []store.Publication) *PublicationIndex {
	ix := &PublicationIndex{Children: map[string]store.Publication{}, Tickets: map[string]store.Publication{}}
	for _, r := range prior {
		switch {
		case r.Service == store.ServiceConfluence && r.Kind == store.KindPage:
			ix.Page = &r
		case r.Service == store.ServiceConfluence && r.Kind == store.KindChildPage:
			ix.Children[r.ExternalKey] = r
		case r.Service == store.ServiceJira && r.Kind == store.KindTicket:
			ix.Tickets[r.System] = r
		case r.Service == store.ServiceSlack && r.Kind == store.KindMessage:
			ix.Message = &r
		}
	}
	return ix
}
