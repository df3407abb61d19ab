package board

import (
	"fmt"
	"html/template"
	"io"
	"strings"
	"time"
)

// pages holds the parsed templates: layout.html around one main template per kind of page.
type pages struct {
	t *template.Template
}

// funcs are the helpers the templates use; html/template escapes what they return.
var funcs = template.FuncMap{
	"clock":    fmtClock,
	"relative": fmtRelative,
	"duration": fmtDuration,
	"iso":      func(t time.Time) string { return t.UTC().Format(time.RFC3339) },
	"date":     func(t time.Time) string { return t.Format("Mon Jan 2") },
	"lower":    strings.ToLower,
	"cardArgs": cardArgs,
	"plural": func(n int, one, many string) string {
		if n == 1 {
			return one
		}
		return many
	},
}

func newPages() (*pages, error) {
	t, err := template.New("board").Funcs(funcs).ParseFS(assets, "templates/*.html")
	if err != nil {
		return nil, fmt.Errorf("board: parsing templates: %w", err)
	}
	return &pages{t: t}, nil
}

// page renders a whole page.
func (p *pages) page(w io.Writer, v view) error { return p.t.ExecuteTemplate(w, "layout", v) }

// fragment renders the main content of a page only, which a live page swaps in.
func (p *pages) fragment(w io.Writer, v view) error { return p.t.ExecuteTemplate(w, "content", v) }

// cardArguments are what the card template needs: the card, the time, and whether it links to its page.
type cardArguments struct {
	Card resourceCard
	Now  time.Time
	Link bool
}

func cardArgs(c any, now time.Time, link bool) (cardArguments, error) {
	switch c := c.(type) {
	case resourceCard:
		return cardArguments{Card: c, Now: now, Link: link}, nil
	case *resourceCard:
		return cardArguments{Card: *c, Now: now, Link: link}, nil
	}
	return cardArguments{}, fmt.Errorf("cardArgs: %T is not a card", c)
}
