package v1alpha1

import (
	"crypto/sha256"
	"encoding/hex"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Bounds of a Standup. They keep the object (answers are stored in its status) well under etcd's limit: at most
// 50 people × 5 answers × 1,000 characters.
const (
	MaxStandupParticipants = 50
	MaxStandupQuestions    = 5
	MaxStandupAnswerLength = 1000
	// MaxStandupHistory is how many past runs status.history keeps, newest first.
	MaxStandupHistory = 20
)

// Condition types of a Standup.
const (
	// StandupConditionRunning is True while a run collects answers.
	StandupConditionRunning = "Running"
	// StandupConditionRunSkipped is True when the latest scheduled run did not start; its reason says why
	// (Holiday, Suspended, Missed, Overlap, NobodyToAsk). False once a scheduled run starts.
	StandupConditionRunSkipped = "RunSkipped"
)

// Reasons of Standup conditions. The reasons of RunSkipped are the StandupReason* constants below too.
const (
	ReasonScheduled       = "Scheduled"
	ReasonSuspended       = "Suspended"
	ReasonInvalidSchedule = "InvalidSchedule"
	ReasonInvalidTimeZone = "InvalidTimeZone"
	ReasonInvalidLinks    = "InvalidLinks"
	ReasonSlackDisabled   = "SlackDisabled"
	ReasonCollecting      = "Collecting"
	ReasonIdle            = "Idle"
	ReasonRan             = "Ran"
)

// Why a run did not start or ended without a summary: the reason of the RunSkipped condition and of a history
// entry.
const (
	StandupReasonHoliday     = "Holiday"
	StandupReasonSuspended   = "Suspended"
	StandupReasonMissed      = "Missed"
	StandupReasonOverlap     = "Overlap"
	StandupReasonNobodyToAsk = "NobodyToAsk"
	StandupReasonCancelled   = "Cancelled"
	StandupReasonCompleted   = "Completed"
	// StandupReasonRunDeleted: the StandupRun of a run collecting answers was deleted.
	StandupReasonRunDeleted = "RunDeleted"
)

// AnnotationRunRequested asks for a run now, outside the schedule: set it to a new value (a time, a request ID)
// and the controller starts a run, once per value, unless one is running. `/dibs standup run` sets it; so can
// `kubectl annotate standup team conch.dev/run-requested-at="$(date -Is)" --overwrite`.
const AnnotationRunRequested = "conch.dev/run-requested-at"

// RunRequestKey is what status.lastRunRequest records for a value of AnnotationRunRequested: the value, or a hash
// of a long one. Whoever sets the annotation compares the two to see that the controller acted on it.
func RunRequestKey(value string) string {
	if len(value) <= 64 {
		return value
	}
	sum := sha256.Sum256([]byte(value))
	return "sha256:" + hex.EncodeToString(sum[:])[:32]
}

// SlackHolderPrefix starts the holder of a Reservation made for a Slack user ("slack:U0123ABC"): the Slack front
// end writes it, and a stand-up's summary reads it to list what each person holds.
const SlackHolderPrefix = "slack:"

// RunTrigger says what started a run.
// +kubebuilder:validation:Enum=Schedule;Manual
type RunTrigger string

const (
	// TriggerSchedule is a run the schedule started.
	TriggerSchedule RunTrigger = "Schedule"
	// TriggerManual is a run a request started (the run-requested-at annotation, `/dibs standup run`).
	TriggerManual RunTrigger = "Manual"
)

// StandupRunID is the ID of the run scheduled at scheduled: that time in UTC, with an "m" for a manual run. Slack
// buttons and modals name a run by it (with its Standup), and its StandupRun object is named from it
// (StandupRunName), so a history entry can be matched to the run it was.
func StandupRunID(scheduled time.Time, trigger RunTrigger) string {
	id := scheduled.UTC().Format("20060102T150405Z")
	if trigger == TriggerManual {
		id += "m"
	}
	return id
}

// RunOutcome is how a run ended, or why it never started.
// +kubebuilder:validation:Enum=Completed;Cancelled;Skipped;Missed
type RunOutcome string

const (
	// OutcomeCompleted means the summary was posted.
	OutcomeCompleted RunOutcome = "Completed"
	// OutcomeCancelled means its date was added to skipDates while it ran; no reminder or summary followed.
	OutcomeCancelled RunOutcome = "Cancelled"
	// OutcomeSkipped means it did not start (holiday, suspended, overlap, nobody to ask).
	OutcomeSkipped RunOutcome = "Skipped"
	// OutcomeMissed means it came due while the manager was down and its collection window had closed.
	OutcomeMissed RunOutcome = "Missed"
)

// StandupAway is one person away until a date.
type StandupAway struct {
	// user is the Slack user ID of the person away.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=32
	// +kubebuilder:validation:XValidation:rule="self.matches('^[UW][A-Z0-9]+$')",message="away[].user must be a Slack user ID such as U0123ABC"
	User string `json:"user,omitempty"`

	// until is the last day away (inclusive), YYYY-MM-DD in the Standup's time zone. The person is asked again
	// from the day after.
	// +required
	// +kubebuilder:validation:MaxLength=10
	// +kubebuilder:validation:Format=date
	// (format date: the API server refuses what is not YYYY-MM-DD or does not exist, such as 2026-02-30; CEL
	// then sees a timestamp, so no pattern rule can add a friendlier message.)
	Until string `json:"until"`
}

// Bounds of a Standup's charts.
const (
	// MaxStandupChartResources is how many Resources a Standup's summary charts at most.
	MaxStandupChartResources = 5
	// DefaultStandupChartDays and MaxStandupChartDays bound the days each chart covers; as for /dibs stats.
	DefaultStandupChartDays = 7
	MaxStandupChartDays     = 35
)

// StandupCharts names the Resources whose contention is charted with each summary.
type StandupCharts struct {
	// resources are the names of Resources in the Standup's namespace, charted in this order: hours held and
	// hours waited per day. A name that is not a Resource (yet) is said so in the post, and charted once it is.
	// +required
	// +listType=set
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=5
	// +kubebuilder:validation:items:MaxLength=253
	// +kubebuilder:validation:XValidation:rule="self.all(r, r.matches('^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$'))",message="resources must be Resource names: lower-case letters, digits, '-' and '.'"
	Resources []string `json:"resources,omitempty"`

	// days is how many days each chart covers, ending with the day of the run: 1 to 35, 7 by default.
	// +optional
	// +default=7
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=35
	Days int32 `json:"days,omitempty"`
}

// StandupSpec says who meets when, and what they are asked.
// +kubebuilder:validation:XValidation:rule="(has(self.participants) && size(self.participants) > 0) || has(self.userGroup)",message="set participants (Slack user IDs), userGroup (a Slack user group ID), or both"
// +kubebuilder:validation:XValidation:rule="!has(self.remindAfter) || duration(self.remindAfter) < (has(self.collectFor) ? duration(self.collectFor) : duration('1h'))",message="remindAfter must be shorter than collectFor: the reminder goes out while answers are still collected"
// +kubebuilder:validation:XValidation:rule="!has(self.charts) || self.channel.matches('^[CG][A-Z0-9]+$')",message="charts need channel to be a channel ID such as C0123ABC: Slack shares files by channel ID only"
// +kubebuilder:validation:XValidation:rule="!has(self.blockerQuestion) || self.blockerQuestion < size(self.questions)",message="blockerQuestion is the index of one of the questions: 0 for the first"
// +kubebuilder:validation:XValidation:rule="!has(self.summaryTime) || (has(self.timing) && self.timing == 'Participant')",message="summaryTime is for timing Participant; with timing Team the summary is posted collectFor after the schedule's time"
// +kubebuilder:validation:XValidation:rule="!has(self.escalateAfter) || (has(self.blockerQuestion) && has(self.escalation))",message="escalateAfter needs blockerQuestion (which question asks about blockers) and escalation (where they go)"
type StandupSpec struct {
	// channel is the Slack channel where the summary is posted: an ID such as C0123ABC (recommended; names
	// change) or a name.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=80
	// +kubebuilder:validation:XValidation:rule="self.matches('^#?[A-Za-z0-9][A-Za-z0-9._-]*$')",message="channel must be a Slack channel ID such as C0123ABC, or a channel name without spaces"
	Channel string `json:"channel,omitempty"`

	// schedule is when runs start: a cron expression of five fields (minute hour day-of-month month day-of-week),
	// read on the wall clock of timeZone. "0 9 * * 1-5" is 09:00 on weekdays.
	// +required
	// +kubebuilder:validation:MinLength=9
	// +kubebuilder:validation:MaxLength=128
	// +kubebuilder:validation:XValidation:rule="self.matches('^[0-9A-Za-z*?,/-]+( +[0-9A-Za-z*?,/-]+){4}$')",message="schedule must be a cron expression of five fields (minute hour day-of-month month day-of-week) such as \"0 9 * * 1-5\"; no seconds, no @daily, no CRON_TZ= (set timeZone)"
	Schedule string `json:"schedule,omitempty"`

	// timeZone is the IANA time zone the schedule, skipDates and away dates are read in, such as Europe/Paris.
	// Daylight saving follows the wall clock: a time repeated when clocks go back runs once; a time skipped when
	// they go forward runs when the gap ends. Defaults to UTC.
	// +optional
	// +default="UTC"
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=64
	// +kubebuilder:validation:XValidation:rule="self.matches('^[A-Za-z][A-Za-z0-9_+-]*(/[A-Za-z0-9_+-]+)*$') && self != 'Local'",message="timeZone must be an IANA time zone name such as Europe/Paris, America/New_York or UTC"
	TimeZone string `json:"timeZone,omitempty"`

	// participants are the Slack user IDs of the people asked.
	// +optional
	// +listType=set
	// +kubebuilder:validation:MaxItems=50
	// +kubebuilder:validation:items:MaxLength=32
	// +kubebuilder:validation:XValidation:rule="self.all(u, u.matches('^[UW][A-Z0-9]+$'))",message="participants must be Slack user IDs such as U0123ABC (in Slack: profile, ⋮, Copy member ID)"
	Participants []string `json:"participants,omitempty"`

	// userGroup is a Slack user group ID (such as S0123ABC) whose members are asked too, looked up at the start
	// of each run. Together with participants, at most 50 people are asked.
	// +optional
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=32
	// +kubebuilder:validation:XValidation:rule="self.matches('^S[A-Z0-9]+$')",message="userGroup must be a Slack user group ID such as S0123ABC, not its @handle"
	UserGroup string `json:"userGroup,omitempty"`

	// questions are asked in this order.
	// +required
	// +listType=atomic
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=5
	// +kubebuilder:validation:items:MaxLength=150
	// +kubebuilder:validation:XValidation:rule="self.all(q, q.matches('\\\\S'))",message="questions must not be empty or blank"
	Questions []string `json:"questions,omitempty"`

	// collectFor is how long answers are collected after the scheduled time; then the summary is posted. A run
	// due while the manager was down still starts if this window is open. Defaults to 1h.
	// +optional
	// +default="1h"
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:XValidation:rule="self.matches('^([0-9]+(\\\\.[0-9]+)?(ns|us|ms|s|m|h))+$') && duration(self) >= duration('1m') && duration(self) <= duration('24h')",message="collectFor must be a duration between 1m and 24h, such as 30m or 2h"
	CollectFor *metav1.Duration `json:"collectFor,omitempty"`

	// remindAfter is when, after the scheduled time, those who have not answered get a reminder; it must be
	// shorter than collectFor. No reminder when unset.
	// +optional
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:XValidation:rule="self.matches('^([0-9]+(\\\\.[0-9]+)?(ns|us|ms|s|m|h))+$') && duration(self) >= duration('1m') && duration(self) <= duration('24h')",message="remindAfter must be a duration between 1m and 24h, such as 45m"
	RemindAfter *metav1.Duration `json:"remindAfter,omitempty"`

	// skipDates are dates (YYYY-MM-DD, in timeZone) with no run: holidays. Adding today's date while a run is
	// collecting cancels it. `/dibs standup skip` adds today.
	// +optional
	// +listType=set
	// +kubebuilder:validation:MaxItems=64
	// +kubebuilder:validation:items:MaxLength=10
	// +kubebuilder:validation:items:Format=date
	SkipDates []string `json:"skipDates,omitempty"`

	// away lists people who are not asked until a date: holidays, leave. `/dibs standup away` sets it.
	// +optional
	// +listType=map
	// +listMapKey=user
	// +kubebuilder:validation:MaxItems=50
	Away []StandupAway `json:"away,omitempty"`

	// charts names Resources whose contention is charted in the channel after each summary: hours held and hours
	// waited per day over the last days, one chart per Resource, with a line each (hours held, hours waited,
	// longest wait). Unset, no charts are posted. It needs channel to be a channel ID and the Slack scope
	// files:write.
	// +optional
	Charts StandupCharts `json:"charts,omitzero"`

	// suspend stops runs from starting; a run already collecting finishes. Runs that come due while suspended
	// are recorded as skipped (RunSkipped, reason Suspended) and are not caught up on resume.
	// +optional
	Suspend bool `json:"suspend,omitempty"`

	// Runs as objects, blockers, time zones and digests (issue 16). These fields are kept together, apart from the
	// ones above, so that other additions to the spec merge cleanly.

	// successfulRunsHistoryLimit is how many completed StandupRuns are kept; older ones are deleted. Defaults to 10.
	// Blocker streaks do not depend on it (the Standup's status keeps them); the weekly digest reads the runs kept.
	// +optional
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=100
	SuccessfulRunsHistoryLimit *int32 `json:"successfulRunsHistoryLimit,omitempty"`

	// failedRunsHistoryLimit is how many cancelled StandupRuns are kept. Defaults to 3.
	// +optional
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=100
	FailedRunsHistoryLimit *int32 `json:"failedRunsHistoryLimit,omitempty"`

	// timing says whose clock the schedule is read on: Team (everyone is asked at the schedule's time in
	// timeZone) or Participant (each person at the schedule's wall-clock time in their own Slack time zone, read
	// from Slack when each run starts, with collectFor and remindAfter counted from their own prompt). With
	// Participant, a run starts when its time comes for the first person and its summary is posted when the last
	// person's window closes, or at summaryTime. Defaults to Team.
	// +optional
	Timing StandupTiming `json:"timing,omitempty"`

	// summaryTime is, with timing Participant, when the summary is posted: HH:MM on the team's clock (timeZone),
	// on the run's date (the next day's if that comes before the run starts). Windows still open then close.
	// Unset: when the last person's window closes.
	// +optional
	// +kubebuilder:validation:MinLength=5
	// +kubebuilder:validation:MaxLength=5
	// +kubebuilder:validation:XValidation:rule="self.matches('^([01][0-9]|2[0-3]):[0-5][0-9]$')",message="summaryTime must be a time of day written HH:MM, such as 17:00"
	SummaryTime string `json:"summaryTime,omitempty"`

	// blockerQuestion is the index (0 for the first) of the question that asks what blocks people. Its answers
	// are highlighted in the summary unless they say there is nothing ("none", "no", "-"), and a blocker reported
	// run after run is counted and, with escalateAfter, escalated.
	// +optional
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=4
	BlockerQuestion *int32 `json:"blockerQuestion,omitempty"`

	// escalateAfter is how many runs in a row someone must report a blocker before it is escalated (posted to
	// escalation.channel, DM'd to escalation.users), once per streak. Runs they skip, or are away for, neither
	// count nor end the streak. Needs blockerQuestion and escalation.
	// +optional
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=100
	EscalateAfter int32 `json:"escalateAfter,omitempty"`

	// escalation says where escalated blockers go.
	// +optional
	Escalation *StandupEscalation `json:"escalation,omitempty"`

	// digest posts a digest of the runs (participation per person, runs skipped, blockers opened and closed,
	// the Resources each person held most) on a schedule of its own.
	// +optional
	Digest *StandupDigest `json:"digest,omitempty"`

	// links turn issue keys and pull requests mentioned in answers into links in the summary, such as
	// JIRA-123 → https://jira.example.com/browse/JIRA-123. At most 10.
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=10
	Links []StandupLink `json:"links,omitempty"`
}

// StandupTiming says whose clock a Standup's schedule is read on.
// +kubebuilder:validation:Enum=Team;Participant
type StandupTiming string

const (
	// TimingTeam asks everyone at the schedule's time in the Standup's timeZone.
	TimingTeam StandupTiming = "Team"
	// TimingParticipant asks each person at the schedule's wall-clock time in their own Slack time zone.
	TimingParticipant StandupTiming = "Participant"
)

// StandupDigest is when and where the digest is posted.
type StandupDigest struct {
	// schedule is when the digest is posted: a cron expression of five fields read on the Standup's timeZone,
	// such as "0 16 * * 5" (Fridays at 16:00). Each digest covers the time since the previous one (the first:
	// the week before).
	// +required
	// +kubebuilder:validation:MinLength=9
	// +kubebuilder:validation:MaxLength=128
	// +kubebuilder:validation:XValidation:rule="self.matches('^[0-9A-Za-z*?,/-]+( +[0-9A-Za-z*?,/-]+){4}$')",message="digest.schedule must be a cron expression of five fields (minute hour day-of-month month day-of-week) such as \"0 16 * * 5\""
	Schedule string `json:"schedule,omitempty"`

	// channel is where the digest is posted; defaults to the Standup's channel.
	// +optional
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=80
	// +kubebuilder:validation:XValidation:rule="self.matches('^#?[A-Za-z0-9][A-Za-z0-9._-]*$')",message="digest.channel must be a Slack channel ID such as C0123ABC, or a channel name without spaces"
	Channel string `json:"channel,omitempty"`
}

// StandupEscalation is where escalated blockers go: a channel, people, or both.
// +kubebuilder:validation:XValidation:rule="has(self.channel) || (has(self.users) && size(self.users) > 0)",message="escalation needs a channel, users, or both"
type StandupEscalation struct {
	// channel is a Slack channel (an ID such as C0123ABC, or a name) where escalated blockers are posted.
	// +optional
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=80
	// +kubebuilder:validation:XValidation:rule="self.matches('^#?[A-Za-z0-9][A-Za-z0-9._-]*$')",message="escalation.channel must be a Slack channel ID such as C0123ABC, or a channel name without spaces"
	Channel string `json:"channel,omitempty"`

	// users are Slack user IDs who get each escalated blocker in a DM.
	// +optional
	// +listType=set
	// +kubebuilder:validation:MaxItems=10
	// +kubebuilder:validation:items:MaxLength=32
	// +kubebuilder:validation:XValidation:rule="self.all(u, u.matches('^[UW][A-Z0-9]+$'))",message="escalation.users must be Slack user IDs such as U0123ABC"
	Users []string `json:"users,omitempty"`
}

// StandupLink turns what a regular expression matches in an answer into a link.
type StandupLink struct {
	// pattern is a regular expression (Go RE2 syntax: no backtracking, so no pattern can be slow) such as
	// `\b[A-Z][A-Z0-9]+-[0-9]+\b` for issue keys or `\b([\w.-]+)/([\w.-]+)#([0-9]+)\b` for pull requests.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=200
	Pattern string `json:"pattern,omitempty"`

	// url is the link's address: an http(s) URL template where $0 is the whole match and $1, $2, … (or ${1}) its
	// groups, each URL-escaped: https://jira.example.com/browse/$0, https://github.com/$1/$2/pull/$3.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=500
	// +kubebuilder:validation:XValidation:rule="self.matches('^https?://[^ <>|]+$')",message="links[].url must be an http or https URL template without spaces, <, > or |"
	URL string `json:"url,omitempty"`
}

// StandupBlocker is someone's blocker streak: the runs in a row in which they reported a blocker.
type StandupBlocker struct {
	// user is the person's Slack user ID.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=32
	User string `json:"user,omitempty"`

	// since is the scheduled time of the first run of the streak.
	// +required
	Since metav1.Time `json:"since"`

	// runs is how many runs in a row reported a blocker.
	// +required
	// +kubebuilder:validation:Minimum=1
	Runs int32 `json:"runs,omitempty"`

	// lastRun is the ID of the latest run that counted.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=64
	LastRun string `json:"lastRun,omitempty"`

	// text is the latest blocker answer, shortened.
	// +optional
	// +kubebuilder:validation:MaxLength=300
	Text string `json:"text,omitempty"`

	// escalated is true once this streak was recorded for escalation (before it is sent).
	// +optional
	Escalated bool `json:"escalated,omitempty"`
}

// StandupParticipant is one person asked in a run, and their answers.
type StandupParticipant struct {
	// user is the person's Slack user ID.
	// +required
	// +kubebuilder:validation:MaxLength=32
	User string `json:"user"`

	// prompted is true once the prompt was recorded for sending. It is written before the DM is sent, so that a
	// restart never sends it twice.
	// +optional
	Prompted bool `json:"prompted,omitempty"`

	// reminded is true once the reminder was recorded for sending, before it is sent.
	// +optional
	Reminded bool `json:"reminded,omitempty"`

	// answeredAt is when the person last submitted their answers.
	// +optional
	AnsweredAt *metav1.Time `json:"answeredAt,omitempty"`

	// timeZone is the person's Slack time zone when the run started (timing Participant).
	// +optional
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=64
	TimeZone string `json:"timeZone,omitempty"`

	// promptAt is when the person is asked (timing Participant): the schedule's time on their clock.
	// +optional
	PromptAt *metav1.Time `json:"promptAt,omitempty"`

	// remindAt is when the person is reminded if they have not answered (timing Participant).
	// +optional
	RemindAt *metav1.Time `json:"remindAt,omitempty"`

	// deadline is when the person's answers stop being collected (timing Participant): collectFor after promptAt,
	// or the summary's time if sooner.
	// +optional
	Deadline *metav1.Time `json:"deadline,omitempty"`

	// answers are the answers to the run's questions, in order.
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=5
	// +kubebuilder:validation:items:MaxLength=1000
	Answers []string `json:"answers,omitempty"`
}

// StandupLegacyRun is the run collecting answers as Conch kept it before StandupRun objects: in the Standup's
// status, answers and all. It is superseded by StandupRun objects: it is read only to move a run that was
// collecting when the manager was upgraded into its StandupRun object; the controller then clears
// status.currentRun. Nothing writes it any more.
type StandupLegacyRun struct {
	// id names the run in Slack buttons and modals: its scheduled time, UTC, to the second.
	// +required
	// +kubebuilder:validation:MaxLength=64
	ID string `json:"id"`

	// trigger is Schedule or Manual.
	// +required
	Trigger RunTrigger `json:"trigger,omitempty"`

	// scheduledTime is when the run was due: the schedule's time, or the request's for a manual run.
	// +required
	ScheduledTime metav1.Time `json:"scheduledTime"`

	// startTime is when it started: later than scheduledTime if the manager was down.
	// +required
	StartTime metav1.Time `json:"startTime"`

	// deadline is when answers stop being collected and the summary is posted: scheduledTime + collectFor.
	// +required
	Deadline metav1.Time `json:"deadline"`

	// remindAt is when those who have not answered are reminded; unset for no reminder (none configured, or the
	// run started after that time).
	// +optional
	RemindAt *metav1.Time `json:"remindAt,omitempty"`

	// reminded is true once the reminders were recorded for sending.
	// +optional
	Reminded bool `json:"reminded,omitempty"`

	// questions are the questions of this run, as they were when it started.
	// +required
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=5
	// +kubebuilder:validation:items:MaxLength=150
	Questions []string `json:"questions"`

	// participants are the people asked, with their answers.
	// +optional
	// +listType=map
	// +listMapKey=user
	// +kubebuilder:validation:MaxItems=50
	Participants []StandupParticipant `json:"participants,omitempty"`

	// away are the people not asked because they are away.
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=50
	// +kubebuilder:validation:items:MaxLength=32
	Away []string `json:"away,omitempty"`
}

// StandupRunReference points to a StandupRun of the Standup.
type StandupRunReference struct {
	// name is the StandupRun's name.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Name string `json:"name,omitempty"`

	// id is the run's ID, as Slack buttons name it.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=64
	ID string `json:"id,omitempty"`

	// scheduledTime is when the run was due.
	// +required
	ScheduledTime metav1.Time `json:"scheduledTime"`

	// deadline is when the run stops (or stopped) collecting answers.
	// +required
	Deadline metav1.Time `json:"deadline"`
}

// StandupRunRecord is what became of a past run.
type StandupRunRecord struct {
	// scheduledTime is when the run was due (the first of them, when count > 1).
	// +required
	ScheduledTime metav1.Time `json:"scheduledTime"`

	// trigger is Schedule or Manual.
	// +optional
	Trigger RunTrigger `json:"trigger,omitempty"`

	// outcome is Completed, Cancelled, Skipped or Missed.
	// +required
	Outcome RunOutcome `json:"outcome,omitempty"`

	// reason says why a run was skipped or how it ended: Completed, Cancelled, Holiday, Suspended, Missed,
	// Overlap or NobodyToAsk.
	// +optional
	// +kubebuilder:validation:MaxLength=64
	Reason string `json:"reason,omitempty"`

	// count is how many runs in a row this record stands for (runs missed or suspended one after the other);
	// at least 1.
	// +optional
	Count int32 `json:"count,omitempty"`

	// participants is how many people were asked.
	// +optional
	Participants int32 `json:"participants,omitempty"`

	// answered is how many of them answered.
	// +optional
	Answered int32 `json:"answered,omitempty"`

	// away is how many people were not asked because they were away.
	// +optional
	Away int32 `json:"away,omitempty"`
}

// StandupStatus is what the controller observed and did.
type StandupStatus struct {
	// conditions are Ready (the schedule and time zone are valid and Slack is on), Running (a run collects
	// answers), RunSkipped (the latest scheduled run did not start, and why), Stalled (the spec cannot work).
	// +optional
	// +listType=map
	// +listMapKey=type
	// +kubebuilder:validation:MaxItems=8
	Conditions []metav1.Condition `json:"conditions,omitempty"`

	// lastRunTime is the scheduled time of the latest run that started.
	// +optional
	LastRunTime *metav1.Time `json:"lastRunTime,omitempty"`

	// nextRunTime is when the next scheduled run is due. It is kept while suspended (the run will be skipped)
	// and cleared while the schedule or time zone is invalid.
	// +optional
	NextRunTime *metav1.Time `json:"nextRunTime,omitempty"`

	// activeRun points to the StandupRun collecting answers now.
	// +optional
	ActiveRun *StandupRunReference `json:"activeRun,omitempty"`

	// lastRun points to the latest StandupRun that ended (completed or cancelled). Its answers can still be edited
	// until the next run ends; an edit updates the posted summary.
	// +optional
	LastRun *StandupRunReference `json:"lastRun,omitempty"`

	// currentRun is the run collecting answers as an earlier version of Conch kept it, in the Standup's status.
	// The controller moves it into a StandupRun object (and clears it) when it first sees it: superseded by
	// activeRun, it is read only on upgrade.
	// +optional
	CurrentRun *StandupLegacyRun `json:"currentRun,omitempty"`

	// history lists past runs, newest first: the last 20 runs that completed, were cancelled, skipped or missed,
	// with participation counts. The answers are in the StandupRun objects, kept as spec.successfulRunsHistoryLimit
	// and spec.failedRunsHistoryLimit say; runs that never started have no object and only this entry.
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=20
	History []StandupRunRecord `json:"history,omitempty"`

	// participantTimeZones are the distinct Slack time zones of the people, as last read (timing Participant):
	// the next run starts when its time comes in the first of them.
	// +optional
	// +listType=set
	// +kubebuilder:validation:MaxItems=50
	// +kubebuilder:validation:items:MaxLength=64
	ParticipantTimeZones []string `json:"participantTimeZones,omitempty"`

	// lastDigestTime is the scheduled time of the latest digest, recorded before it is posted (so that a restart
	// never posts it twice); the next digest covers the time since.
	// +optional
	LastDigestTime *metav1.Time `json:"lastDigestTime,omitempty"`

	// nextDigestTime is when the next digest is due.
	// +optional
	NextDigestTime *metav1.Time `json:"nextDigestTime,omitempty"`

	// blockers are the open blocker streaks, one per person, updated when a run completes.
	// +optional
	// +listType=map
	// +listMapKey=user
	// +kubebuilder:validation:MaxItems=50
	Blockers []StandupBlocker `json:"blockers,omitempty"`

	// blockersClosed counts the streaks that ended (someone answered that nothing blocks them any more), for the
	// weekly digest.
	// +optional
	// +kubebuilder:validation:Minimum=0
	BlockersClosed int32 `json:"blockersClosed,omitempty"`

	// lastRunRequest is the value of the conch.dev/run-requested-at annotation last acted on (or its hash, for a
	// long value).
	// +optional
	// +kubebuilder:validation:MaxLength=128
	LastRunRequest string `json:"lastRunRequest,omitempty"`

	// observedGeneration is the generation of the spec this status was computed from.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`
}

// Standup is a team's stand-up meeting held in Slack: on schedule, each participant gets a DM with a button that
// opens the questions; those who have not answered are reminded; at the deadline a summary goes to the channel,
// with each person's answers and the environments (Resources) they hold or wait for.
//
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=su,categories=conch
// +kubebuilder:printcolumn:name="Schedule",type=string,JSONPath=`.spec.schedule`
// +kubebuilder:printcolumn:name="Time Zone",type=string,JSONPath=`.spec.timeZone`,priority=1
// +kubebuilder:printcolumn:name="Suspend",type=boolean,JSONPath=`.spec.suspend`
// +kubebuilder:printcolumn:name="Next",type=string,JSONPath=`.status.nextRunTime`
// +kubebuilder:printcolumn:name="Collecting Until",type=string,JSONPath=`.status.activeRun.deadline`
// +kubebuilder:printcolumn:name="Last Run",type=string,JSONPath=`.status.lastRun.name`,priority=1
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type Standup struct {
	metav1.TypeMeta `json:",inline"`
	// metadata is the standard object metadata: name, namespace, labels, annotations.
	// +optional
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// spec says who meets when, and what they are asked.
	// +required
	Spec StandupSpec `json:"spec,omitzero"`

	// status records the runs.
	// +optional
	Status StandupStatus `json:"status,omitempty"`
}

// StandupList is a list of Standups.
//
// +kubebuilder:object:root=true
type StandupList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []Standup `json:"items"`
}
