// Package grade extracts answers from model responses to reasoning benchmarks and checks
// them against the gold answer. It is used by the eval runner, by `arbor eval rescore`,
// and by `arbor eval grade`.
//
// # Extraction
//
// A response that is a JSON object with a string or number "answer" field at the top level
// (Arbor's task-tree JSON) is replaced by that field (method "tree"); the task's rules then
// apply to it, and a bare field that no rule matches is taken whole.
//
// For math, aime, gsm8k and arith the answer is, in order of preference:
//  1. the content of the last \boxed{...} or \fbox{...} (nested braces handled);
//  2. what follows the last answer phrase ("final answer is", "Final answer:", GSM8K's
//     "#### N", "answer is", "answer:"), up to the end of the sentence or line, without a
//     trailing period, markdown bold or $ delimiters. If the text after that sentence
//     retracts it ("But wait, it's 6", "actually ..."), the last number after the
//     retraction is taken instead;
//  3. the last number in the text (integers, decimals, 1,000-style numbers, a/b).
//
// For gpqa the chosen letter A-D: the last explicit phrasing ("Answer: C", "the answer is
// (C)", "correct option is C", \boxed{C}) wins; only when there is none, the last bare
// mention ("(C)", "**C**", "C)" at a line's start, "option C", "choice C", a line holding
// only the letter). Lowercase letters count only in explicit phrasings and before
// punctuation or the end ("answer: c"), and a capital "A" used as an article ("A good
// answer is ...") never counts, as only the patterns above are matched.
//
// # Equivalence (MathEqual)
//
// Both answers are normalised: $ and \( \) delimiters, \left/\right, spacing commands
// (\! \, \; \ ), \text{}/\textbf{}/\mathrm{} wrappers, degree signs (^\circ, °), percent
// signs, \$, thousands separators (1,000 and 1{,}000, when the whole answer is such a
// number), a trailing .0, a trailing period, a leading assignment ("x =", "a="), and unit
// words after a number ("5 cm", "\text{ cm}^2", "dollars", "degrees") are removed; \dfrac
// and \tfrac become \frac, \frac12 and \sqrt2 gain their braces, and a whole answer that
// is a mixed number (1\frac{1}{2}) reads as 1 + 1/2.
//
// Percent: "50\%" is read as 50, not 0.5, following the MATH convention that golds are
// written without the sign; so "50\%" equals gold "50" and does not equal gold "0.5".
//
// Then, in order: equal strings (ignoring case and spaces; "(B)" equals "B") are equal.
// Sets \{a, b\} are compared order-free; tuples and intervals element-wise, with both
// brackets required to match exactly ("[0, 1)" is not "[0, 1]"); bare comma lists
// element-wise in order, or else as an order-free collection of solutions. Single values
// are parsed as arithmetic (+ - * / ^, parentheses, implicit products, \frac, \sqrt,
// \sqrt[n], \pi, e, \cdot, \times) and compared exactly where possible: as sums of terms
// c*sqrt(r)*pi^k with c rational and r squarefree (so 0.5 = \frac12, 2\sqrt2 = \sqrt8,
// \frac{\sqrt3}{2} = \frac12\sqrt3, \frac{\pi}{3} = \pi/3, 1/(1+\sqrt2) = \sqrt2-1);
// otherwise numerically with relative tolerance 1e-6 (expressions in variables at a few
// points). Exact values that differ are unequal: 0.333333 is not 1/3.
//
// # Bounds
//
// Every comparison runs under a budget of about 100 ms checked in its loops, answers
// longer than a few KB are compared only as strings, nesting depth, exponents (at most
// 64 computed exactly), rational sizes (2048 bits), surd radicands and element counts are
// capped, and Grade recovers from any panic. Extraction is linear in the response's size.
//
// AIME answers must be integers 0-999 (leading zeros allowed: "033" is 33); GSM8K and
// arith answers are compared with the gold as exact rationals.
package grade
