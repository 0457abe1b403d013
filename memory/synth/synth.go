// Package synth generates long synthetic multi-session dialogues for measuring memory: facts
// are planted at some turns and asked about many turns later, half of the questions in other
// words than the fact (so that keyword overlap alone cannot find it), among filler turns that
// talk about the same kinds of things (so that topic alone cannot either). Everything follows
// from a seed, so a benchmark run can be repeated exactly.
package synth

import (
	"fmt"
	"math/rand/v2"
	"slices"
)

// Turn is one exchange: the user's message and the assistant's reply.
type Turn struct {
	User, Reply string
}

// Question asks, at turn AskedAt, about the fact planted at turn FactTurn.
type Question struct {
	AskedAt, FactTurn int
	Text              string
	Answer            string // the words of the fact that answer it
	Paraphrased       bool   // asked in other words than the fact was stated
}

// Dialogue is a generated conversation: Turns split into sessions of SessionLen turns (the
// turn index runs across sessions), with its questions in the order they are asked.
type Dialogue struct {
	Turns      []Turn
	SessionLen int
	Questions  []Question
}

// Options shape a dialogue.
type Options struct {
	Turns      int // total turns (at most 100,000)
	SessionLen int // turns per session (0: 20)
	Facts      int // facts planted (0: Turns/10); each is asked about once
	// MinGap is the fewest turns between a fact and its question (0: 10).
	MinGap int
	Seed   uint64
}

type factKind struct {
	state     string // with %s for the value
	ask, para string // the literal question and a paraphrase sharing no content word with state
	values    []string
	filler    string // a filler sentence on the same topic, with %s for a distractor value
}

var kinds = []factKind{
	{"My sister's name is %s.", "What is my sister's name?", "Remind me, what is my female sibling called?",
		[]string{"Alice", "Beatriz", "Chiara", "Dagny", "Elif", "Farah", "Greta", "Hana", "Ingrid", "Jun"},
		"My coworker's sister is called %s, funnily enough."},
	{"I parked the car on level %s of the garage.", "Which level of the garage did I park the car on?",
		"Where in the multi-storey did I leave my vehicle?",
		[]string{"2", "3", "4", "5", "6", "7", "8", "9"},
		"The garage at the mall has a level %s that is always full."},
	{"My flight to %s leaves on Friday morning.", "Where does my flight on Friday go?",
		"What city am I flying off to at the end of the week?",
		[]string{"Tokyo", "Lima", "Oslo", "Nairobi", "Hanoi", "Quito", "Perth", "Porto", "Seoul", "Tunis"},
		"A friend once missed a flight to %s because of traffic."},
	{"The wifi password at home is %s.", "What is the wifi password at home?",
		"Which passphrase gets my laptop onto the network in my flat?",
		[]string{"maple-47", "otter-12", "cobalt-88", "raven-03", "tulip-59", "ember-21", "quartz-76", "sable-34"},
		"The cafe downstairs uses %s as its wifi password."},
	{"I am allergic to %s.", "What am I allergic to?", "Which food makes me react badly?",
		[]string{"peanuts", "shellfish", "sesame", "kiwi", "mustard", "celery", "lupin", "buckwheat"},
		"Some restaurants now label dishes that contain %s."},
	{"My dentist appointment is at %s on Tuesday.", "When is my dentist appointment on Tuesday?",
		"What time do I have to be at the tooth doctor's?",
		[]string{"8:30", "9:15", "10:45", "11:20", "13:10", "14:40", "15:55", "16:25"},
		"The dentist's office opens at %s on weekdays, I think."},
	{"I keep the spare key under the %s by the back door.", "Where do I keep the spare key?",
		"If I lock myself out, where is the extra one hidden?",
		[]string{"blue flowerpot", "loose brick", "doormat", "garden gnome", "watering can", "stone frog"},
		"My neighbour hides things under a %s, which seems risky."},
	{"My bike lock code is %s.", "What is my bike lock code?", "Which digits open the thing that secures my bicycle?",
		[]string{"4172", "9035", "2268", "7741", "5809", "3316", "6650", "1984"},
		"A bike shop sells locks with default codes like %s."},
}

var smallTalk = []Turn{
	{"How was your day?", "Quiet so far, thanks. What about yours?"},
	{"I watched a documentary about octopuses last night.", "They are remarkable animals; each arm can act on its own."},
	{"The weather keeps changing this week.", "Spring often does that. Layers help."},
	{"Any tips for sleeping better?", "A regular bedtime, less screen light late, and a cool room."},
	{"I started learning to juggle.", "Start with two balls and add the third once the rhythm is steady."},
	{"What should I cook tonight?", "A simple stir-fry is quick: vegetables, rice and a sauce you like."},
	{"I finished the book you suggested.", "Glad to hear it. Did the ending surprise you?"},
	{"My plants are finally growing.", "Good light and not too much water make most of the difference."},
}

// Generate makes a dialogue. Facts are planted at random turns, each a random kind with a
// random value, and each question asked at least MinGap turns after its fact (its evidence is
// that turn: when a kind is planted twice, as it is once facts outnumber the kinds' values, the
// same question may be asked of either fact); filler turns
// are small talk or distractors (the same topic, with a value no fact of that kind has where
// one is left).
func Generate(opt Options) (*Dialogue, error) {
	if opt.Turns < 2 || opt.Turns > 100000 {
		return nil, fmt.Errorf("synth: %d turns: want 2 to 100,000", opt.Turns)
	}
	if opt.SessionLen <= 0 {
		opt.SessionLen = 20
	}
	if opt.MinGap <= 0 {
		opt.MinGap = 10
	}
	if opt.Facts <= 0 {
		opt.Facts = max(1, opt.Turns/10)
	}
	if opt.MinGap >= opt.Turns {
		return nil, fmt.Errorf("synth: a gap of %d turns in a dialogue of %d", opt.MinGap, opt.Turns)
	}
	// Each fact and each question takes a turn of its own.
	if 2*opt.Facts > opt.Turns-opt.MinGap {
		return nil, fmt.Errorf("synth: %d facts and their questions do not fit in %d turns", opt.Facts, opt.Turns)
	}
	r := rand.New(rand.NewPCG(opt.Seed, opt.Seed^0x5eed))
	d := &Dialogue{Turns: make([]Turn, opt.Turns), SessionLen: opt.SessionLen}
	used := make([]bool, opt.Turns)
	// A kind's value stays unique among planted facts of that kind where it can, so that a
	// question has one right answer.
	taken := map[string]bool{}
	for attempts := 0; len(d.Questions) < opt.Facts; attempts++ {
		if attempts > 100*opt.Facts+1000 {
			return nil, fmt.Errorf("synth: could not place %d facts and questions %d turns apart in %d turns",
				opt.Facts, opt.MinGap, opt.Turns)
		}
		at := r.IntN(opt.Turns - opt.MinGap)
		if used[at] {
			continue
		}
		// The question's turn: a free one at least MinGap later (random, else the first).
		ask := -1
		for tries := 0; tries < 16 && ask < 0; tries++ {
			if q := at + opt.MinGap + r.IntN(opt.Turns-at-opt.MinGap); !used[q] {
				ask = q
			}
		}
		for q := at + opt.MinGap; ask < 0 && q < opt.Turns; q++ {
			if !used[q] {
				ask = q
			}
		}
		if ask < 0 {
			continue // the tail is full: plant this fact earlier
		}
		ki := r.IntN(len(kinds))
		k := kinds[ki]
		v := k.values[r.IntN(len(k.values))]
		if taken[fmt.Sprint(ki, v)] && attempts < 20*opt.Facts {
			continue
		}
		taken[fmt.Sprint(ki, v)] = true
		used[at], used[ask] = true, true
		d.Turns[at] = Turn{User: fmt.Sprintf(k.state, v), Reply: "Got it, I will remember that."}
		q := Question{AskedAt: ask, FactTurn: at, Answer: v, Paraphrased: len(d.Questions)%2 == 1}
		q.Text = k.ask
		if q.Paraphrased {
			q.Text = k.para
		}
		d.Turns[ask] = Turn{User: q.Text, Reply: "Let me recall that."}
		d.Questions = append(d.Questions, q)
	}
	for i := range d.Turns {
		if used[i] {
			continue
		}
		if r.IntN(2) == 0 {
			d.Turns[i] = smallTalk[r.IntN(len(smallTalk))]
			continue
		}
		ki := r.IntN(len(kinds))
		k := kinds[ki]
		// A distractor's value is one no fact of its kind has, where one is left, so that it
		// cannot pass for the answer.
		v := k.values[r.IntN(len(k.values))]
		for tries := 0; taken[fmt.Sprint(ki, v)] && tries < 16; tries++ {
			v = k.values[r.IntN(len(k.values))]
		}
		d.Turns[i] = Turn{User: fmt.Sprintf(k.filler, v), Reply: "That is interesting."}
	}
	slices.SortFunc(d.Questions, func(a, b Question) int { return a.AskedAt - b.AskedAt })
	return d, nil
}
