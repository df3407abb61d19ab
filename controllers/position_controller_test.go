package controllers

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	conchv1 "github.com/conch-dev/conch/api/v1alpha1"
	"github.com/conch-dev/conch/internal/queue"
	"github.com/conch-dev/conch/internal/testutil"
)

func TestBetter(t *testing.T) {
	never := time.Time{}
	paris, err := time.LoadLocation("Europe/Paris")
	if err != nil {
		t.Fatal(err)
	}
	cases := map[string]struct {
		at       time.Time
		name     string
		bestAt   time.Time
		bestName string
		want     bool
	}{
		"an earlier turn wins":                        {at: tNow, name: "b", bestAt: tNow.Add(time.Second), bestName: "a", want: true},
		"a later turn loses":                          {at: tNow.Add(time.Second), name: "a", bestAt: tNow, bestName: "b", want: false},
		"a turn beats never (paused)":                 {at: tNow.Add(time.Hour), name: "z", bestAt: never, bestName: "a", want: true},
		"never (paused) loses to any turn":            {at: never, name: "a", bestAt: tNow.Add(time.Hour), bestName: "z", want: false},
		"both never: the smaller name wins":           {at: never, name: "a", bestAt: never, bestName: "b", want: true},
		"both never: the larger name loses":           {at: never, name: "b", bestAt: never, bestName: "a", want: false},
		"the same turn: the smaller name wins":        {at: tNow, name: "qa-1", bestAt: tNow, bestName: "qa-2", want: true},
		"the same turn: the larger name loses":        {at: tNow, name: "qa-2", bestAt: tNow, bestName: "qa-1", want: false},
		"the same turn in another zone is the same":   {at: tNow.In(paris), name: "qa-1", bestAt: tNow, bestName: "qa-2", want: true},
		"the same turn and name: not better (stable)": {at: tNow, name: "qa-1", bestAt: tNow, bestName: "qa-1", want: false},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			if got := better(tc.at, tc.name, tc.bestAt, tc.bestName); got != tc.want {
				t.Errorf("better = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestQueuedOutcome(t *testing.T) {
	entry := ledgerWaiter("r1", 7)
	turn := tNow.Add(90 * time.Minute)
	cases := map[string]struct {
		res  *conchv1.Resource
		rsv  *conchv1.Reservation
		turn time.Time
		want queue.Outcome
	}{
		"asked for 2h within the limit: the term is computed again, not read from the ledger entry (1h)": {
			res: testutil.Resource("staging").Max(4 * time.Hour).Obj(), rsv: testutil.Reservation("r1").For(2 * time.Hour).Obj(), turn: turn,
			want: queue.Outcome{Duration: 2 * time.Hour, Requested: 2 * time.Hour, EstimatedGrantTime: turn},
		},
		"asked for more than maxDuration: clamped": {
			res: testutil.Resource("staging").Max(time.Hour).Obj(), rsv: testutil.Reservation("r1").For(3 * time.Hour).Obj(), turn: turn,
			want: queue.Outcome{Duration: time.Hour, Requested: 3 * time.Hour, Clamped: true, EstimatedGrantTime: turn},
		},
		"asked for nothing: the Resource's default, nothing requested": {
			res: testutil.Resource("staging").Default(30 * time.Minute).Obj(), rsv: testutil.Reservation("r1").Obj(), turn: turn,
			want: queue.Outcome{Duration: 30 * time.Minute, EstimatedGrantTime: turn},
		},
		"asked for nothing, no default: an hour": {
			res: testutil.Resource("staging").Obj(), rsv: testutil.Reservation("r1").Obj(), turn: turn,
			want: queue.Outcome{Duration: time.Hour, EstimatedGrantTime: turn},
		},
		"a default above maxDuration is cut to it, and not reported as clamped": {
			res: testutil.Resource("staging").Default(8 * time.Hour).Max(2 * time.Hour).Obj(), rsv: testutil.Reservation("r1").Obj(), turn: turn,
			want: queue.Outcome{Duration: 2 * time.Hour, EstimatedGrantTime: turn},
		},
		"granting paused: no turn, no estimate": {
			res: testutil.Resource("staging").Paused().Obj(), rsv: testutil.Reservation("r1").For(time.Hour).Obj(),
			want: queue.Outcome{Duration: time.Hour, Requested: time.Hour},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			want := tc.want
			want.Name, want.UID, want.State, want.Reason = "r1", "uid-r1", conchv1.StateQueued, conchv1.ReasonQueued
			want.Ticket, want.Position, want.Waiting = 7, 2, 3
			got := queuedOutcome(tc.res, tc.rsv, entry, 2, 3, tc.turn)
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("outcome (-want +got):\n%s", diff)
			}
		})
	}
}
