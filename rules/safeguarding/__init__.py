"""Safeguarding monitoring: which searches, sites and URL paths raise a concern for the DSL, and why.

A pure library (no storage, no protocol library), so DNS, the proxy, the scheduler, the web app and the
`schoolgate` command can all ask it the same question. Where a change belongs:

- `categories`: the shared words, `Category` and `Severity`;
- `builtin_phrases.txt`: the curated catalogue, with what it leaves out and why in its header;
- `patterns`: the phrase syntax (alternatives, stems, one-word gaps) compiled to word sequences;
- `normalise`: text in the one form matching compares (case, accents, spacing, letter swaps, stretched
  letters, URL encoding);
- `phrasefile`: the phrase file format shared by the catalogue and a school's own list, parsed all or
  nothing with an error per bad line;
- `catalogue`: the built-in list, loaded once, and `merge`, the pure function that applies a school's rows;
- `matcher`: one compiled trie and `Matcher.match` / `match_search` / `match_site`;
- `explain`: what a text would raise and why, for `schoolgate safeguarding test`.

What devices look up on their own is never matched: `rules.automatic` owns that list.
"""
