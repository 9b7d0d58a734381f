package review

import (
	"context"
	"fmt"
	"sync"

	"github.com/uar-dev/uar/internal/model"
	"github.com/uar-dev/uar/internal/okta"
	"github.com/uar-dev/uar/internal/store"
)

// stageWriter is the okta.Sink of SnapshotOkta: it numbers groups and
// users, turns each member page into staged rows and writes them from one
// goroutine, several pages per transaction, while the fetches go on. The
// fetches block when it falls behind (a bounded queue), so memory holds a
// few pages' rows, never the population.
type stageWriter struct {
	ctx        context.Context
	st         *store.Store
	sid        int64
	allowEmpty bool

	// owned by the sink calls (serialised by the okta builder)
	groupNo  map[string]int32
	groupSrc map[string]int8
	userNo   map[string]int32
	parts    map[int32]int32 // parts staged so far per group number (this read)

	queue chan stageBatch
	done  chan struct{}
	mu    sync.Mutex
	err   error // the writer's first error
}

// stageBatch is what one page adds.
type stageBatch struct {
	reset    int32 // a group number whose memberships to delete first, or 0
	users    []store.StagedUser
	replaced []model.User
	members  store.MemberPart
}

// Batches per transaction and queued: enough to keep the writer busy
// while the fetches decode, few enough to bound memory (a 1,000-member
// page is about 30 KB of rows).
const (
	stagePerTx = 8
	stageQueue = 16
)

func newStageWriter(ctx context.Context, st *store.Store, sid int64, allowEmpty bool) *stageWriter {
	w := &stageWriter{ctx: ctx, st: st, sid: sid, allowEmpty: allowEmpty, groupNo: map[string]int32{}, groupSrc: map[string]int8{},
		userNo: map[string]int32{}, parts: map[int32]int32{}, queue: make(chan stageBatch, stageQueue), done: make(chan struct{})}
	go w.run(ctx)
	return w
}

func (w *stageWriter) fail(err error) {
	w.mu.Lock()
	if w.err == nil {
		w.err = err
	}
	w.mu.Unlock()
}

func (w *stageWriter) failed() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.err
}

// run writes queued batches until the queue is closed. After an error it
// keeps draining (so senders never block) without writing.
func (w *stageWriter) run(ctx context.Context) {
	defer close(w.done)
	for b := range w.queue {
		batch := []stageBatch{b}
	more:
		for len(batch) < stagePerTx {
			select {
			case nb, ok := <-w.queue:
				if !ok {
					break more
				}
				batch = append(batch, nb)
			default:
				break more
			}
		}
		if w.failed() != nil {
			continue
		}
		err := w.st.WithTx(ctx, func(tx *store.Tx) error {
			for _, b := range batch {
				if b.reset != 0 {
					if err := tx.DeleteStagedMembers(ctx, w.sid, b.reset); err != nil {
						return err
					}
				}
				if err := tx.StageUsers(ctx, w.sid, b.users); err != nil {
					return err
				}
				for _, u := range b.replaced {
					if err := tx.ReplaceStagedUser(ctx, w.sid, u); err != nil {
						return err
					}
				}
				if len(b.members.Users) > 0 {
					if err := tx.StageMembers(ctx, w.sid, []store.MemberPart{b.members}); err != nil {
						return err
					}
				}
			}
			return nil
		})
		if err != nil {
			w.fail(fmt.Errorf("stage snapshot %d: %w", w.sid, err))
		}
	}
}

// Groups stages every matched group (okta.Sink).
func (w *stageWriter) Groups(groups []model.Group) error {
	if len(groups) == 0 && !w.allowEmpty {
		return errNoGroups
	}
	for _, g := range groups {
		code, err := store.SourceCode(okta.SourceOf(g))
		if err != nil {
			return err
		}
		w.groupSrc[g.ID] = code
	}
	return w.st.WithTx(w.ctx, func(tx *store.Tx) error {
		nos, err := tx.StageGroups(w.ctx, w.sid, groups)
		w.groupNo = nos
		return err
	})
}

// Members queues one page's rows (okta.Sink).
func (w *stageWriter) Members(p okta.MemberPage) error {
	if err := w.failed(); err != nil {
		return err
	}
	g, ok := w.groupNo[p.GroupID]
	if !ok {
		return fmt.Errorf("stage: member page of group %s, which the listing did not have", p.GroupID)
	}
	b := stageBatch{replaced: p.Replaced}
	if p.Reset {
		b.reset = g
		w.parts[g] = 0
	}
	for _, u := range p.New {
		no := int32(len(w.userNo) + 1)
		w.userNo[u.ID] = no
		b.users = append(b.users, store.StagedUser{No: no, User: u})
	}
	if len(p.Members) > 0 {
		w.parts[g]++
		b.members = store.MemberPart{GroupNo: g, Part: w.parts[g], Source: w.groupSrc[p.GroupID], Users: make([]int32, 0, len(p.Members))}
		for _, id := range p.Members {
			no, ok := w.userNo[id]
			if !ok {
				return fmt.Errorf("stage: member %s of group %s was never given", id, p.GroupID)
			}
			b.members.Users = append(b.members.Users, no)
		}
	}
	w.queue <- b
	return nil
}

// close waits for every queued batch to be written and returns the
// writer's error.
func (w *stageWriter) close() error {
	close(w.queue)
	<-w.done
	return w.failed()
}

// numbersOf maps user ids to their staged numbers.
func (w *stageWriter) numbersOf(ids []string) []int32 {
	out := make([]int32, 0, len(ids))
	for _, id := range ids {
		if no, ok := w.userNo[id]; ok {
			out = append(out, no)
		}
	}
	return out
}
