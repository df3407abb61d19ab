package chat

import (
	"slices"
)

// Priorities and preemption, in a take:
//
//	priority <n>          spec.priority n (0 to 100); above 0 it needs a reason ("because ..."), as the API does
//	urgent                priority UrgentPriority; "urgent: <reason>" says why in the same breath
//	no-preempt            spec.preemptible Never: a higher priority may not take this hold's slot
//
// How a Resource treats a priority (ahead in the queue, or taking a held slot) is its spec.priorities: see
// docs/planning.md.

// UrgentPriority is the priority "urgent" asks for: ahead of everyday requests, with room above it, and small
// enough that aging (one point per agingInterval waited) bounds what it costs those it passes (docs/planning.md).
const UrgentPriority = 10

// MaxPriority is the highest spec.priority.
const MaxPriority = 100

// cutPriority takes "priority <n>", "urgent" and "no-preempt" out of the words of a take, setting them on cmd
// (whose Reason is already read; urgent is true when the reason followed "urgent:"), and returns the other words.
func cutPriority(phrase []token, urgent bool, cmd *Command) ([]token, *Error) {
	var rest []token
	said := ""
	if urgent {
		cmd.Priority, said = UrgentPriority, "urgent:"
	}
	for i := 0; i < len(phrase); i++ {
		w := phrase[i]
		switch w.lower {
		case "priority", "urgent":
			if said != "" {
				return nil, errorf("say the priority once: %s or %s", quote(said), quote(w.text))
			}
			said = w.lower
			if w.lower == "urgent" {
				cmd.Priority = UrgentPriority
				continue
			}
			n := -1
			if i+1 < len(phrase) {
				if v, ok := atoi(phrase[i+1].lower); ok && v <= MaxPriority {
					n = v
				}
			}
			if n < 0 {
				return nil, errorf("%s needs a number from 0 to %d after it, such as %s for 1h priority 20 because hotfix for INC-42",
					quote(w.text), MaxPriority, cmd.Resource)
			}
			cmd.Priority = int32(n)
			said = "priority " + phrase[i+1].lower
			i++
		case "no-preempt", "nopreempt", "no-preemption":
			cmd.NoPreempt = true
		default:
			rest = append(rest, w)
		}
	}
	if cmd.Priority > 0 && cmd.Reason == "" {
		return nil, errorf("%s needs a reason: say why it goes ahead of the others, such as %s for 1h urgent: hotfix for INC-42, or %s for 1h priority 20 because hotfix for INC-42",
			quote(said), cmd.Resource, cmd.Resource)
	}
	return slices.Clip(rest), nil
}
