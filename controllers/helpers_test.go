package controllers

import (
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	conchv1 "github.com/conch-dev/conch/api/v1alpha1"
)

// Instants the status tests share: tNow is when a status is computed, tBefore is when the conditions already
// stored last changed.
var (
	tNow    = time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)
	tBefore = tNow.Add(-time.Hour)
)

// wantCond is a condition as the status functions write it.
func wantCond(typ string, status metav1.ConditionStatus, reason, message string, gen int64, at time.Time) metav1.Condition {
	return metav1.Condition{
		Type: typ, Status: status, Reason: reason, Message: message,
		ObservedGeneration: gen, LastTransitionTime: metav1.NewTime(at),
	}
}

// ledgerHolder is a ledger entry for a hold on until.
func ledgerHolder(name, who string, until time.Time) conchv1.ResourceHolder {
	return conchv1.ResourceHolder{
		Reservation: name, UID: "uid-" + name, Holder: who,
		Since: metav1.NewMicroTime(until.Add(-time.Hour)), Until: metav1.NewMicroTime(until),
	}
}

// ledgerWaiter is a queue entry.
func ledgerWaiter(name string, ticket int64) conchv1.QueueEntry {
	return conchv1.QueueEntry{
		Reservation: name, UID: "uid-" + name, Holder: name, Ticket: ticket,
		Duration: metav1.Duration{Duration: time.Hour},
	}
}

func ptrMicro(t time.Time) *metav1.MicroTime { m := metav1.NewMicroTime(t); return &m }
func ptrMeta(t time.Time) *metav1.Time       { return &metav1.Time{Time: t} }
