package chat

import (
	"strings"
)

// Help is the grammar with examples, in Slack mrkdwn, for "/dibs help" and to follow an Error. command is the
// slash command as configured; empty means DefaultCommand, and a missing "/" is added so that every example can
// be copied as is.
func Help(command string) string {
	c := slashCommand(command)
	var b strings.Builder
	line := func(example, meaning string) {
		b.WriteString("• `" + c + example + "`  " + meaning + "\n")
	}
	b.WriteString("*Take turns on shared things*\n")
	line(" staging", "take staging, or join its queue if someone has it")
	line(" staging for 2h because testing the hotfix", "say how long and why")
	line(" staging until 17:00", "until a time of day, in your time zone")
	line(" staging for 2h deploy pr-345", "and deploy revision pr-345 to it while you hold it (if the resource deploys)")
	line(" staging tomorrow 9:00 for 2h", "book it ahead: from 9:00 tomorrow, your time zone; also `at 14:00`, `monday 9am`, a date")
	line(" staging at 14:00 until 16:00 no-preempt because customer demo", "a booking no higher priority may take over")
	line(" staging for 1h urgent: hotfix for INC-42", "go ahead of the queue, saying why (priority 10); or `priority 20 because …` (0–100)")
	line(" off staging", "give it back, or leave its queue")
	line(" extend staging 30m", "keep it 30 minutes longer; `extend staging until 18:00` moves the end to 18:00")
	line(" list", "every resource, who has it and who waits")
	line(" who staging", "who has staging and who waits")
	line(" calendar staging", "the next 7 days of staging: holds, the queue's expected turns and bookings, in your time zone; `calendar` for every resource, `calendar pool=web` for a pool")
	line(" nudge staging", "ask whoever holds staging to hand it over (a DM with Release and Extend buttons)")
	line(" watch staging", "DM me once when staging is free, without queueing; `watch pool=web` for any Resource labelled pool=web; `unwatch staging` to stop")
	line(" stats staging 14d", "a chart of the hours staging was held and waited for, per day (7 days unless you say, at most 35)")
	line(" help", "this message")
	b.WriteString("*Durations:* `30m`, `2h`, `1h30m`, `1.5h`, `90 minutes`, `1d`, `until 17:00`, `until 5:30pm`, " +
		"`all day` (until midnight, your time). At most 30 days; without one, the resource's default applies.\n")
	b.WriteString("*Starts:* `at 14:00` (the next 14:00), `today 16:00`, `tomorrow 9am`, `monday 9:00`, `2026-12-24 9:00`, " +
		"in your Slack time zone, at most a year ahead. A time that clocks skip is refused; one they repeat is the first of the two. " +
		"Priorities and preemption follow the resource's rules.\n")
	b.WriteString("*Names:* lower-case letters, digits, `-` and `.`. To take a resource named like a command word, " +
		"put `on` first: `" + c + " on list`.\n")
	b.WriteString("*Stand-ups:* `" + c + " standup help`.")
	return b.String()
}

// StandupHelp is the help of the stand-up commands, in Slack mrkdwn, for "/dibs standup help" and to follow an
// Error in a stand-up command. command is the slash command, as for Help.
func StandupHelp(command string) string {
	c := slashCommand(command) + " standup"
	var b strings.Builder
	line := func(example, meaning string) { b.WriteString("• `" + c + example + "`  " + meaning + "\n") }
	b.WriteString("*Stand-ups*\n")
	line("", "the stand-ups here: when, who is collecting")
	line(" skip team", "no *team* stand-up today (cancels today's if it is collecting); also `skip team 2026-12-24`")
	line(" unskip team 2026-12-24", "take a skipped day back")
	line(" away 2026-12-01", "do not ask me through 1 December (every stand-up I am in, or name one)")
	line(" back", "ask me again from now on")
	line(" run team", "start a *team* stand-up now")
	b.WriteString("Without a name, the stand-up of this channel is meant, or the only one. Dates are YYYY-MM-DD, `today` or `tomorrow`, in the stand-up's time zone.")
	return b.String()
}

// slashCommand is the slash command as configured, DefaultCommand when empty, with the "/" people type.
func slashCommand(command string) string {
	c := strings.TrimSpace(command)
	if c == "" {
		c = DefaultCommand
	}
	if !strings.HasPrefix(c, "/") {
		c = "/" + c
	}
	return c
}
