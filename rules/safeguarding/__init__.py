"""Safeguarding monitoring: which searches, sites and URL paths raise a concern for the DSL, and why.

The matching modules are a pure library (no storage, no protocol library), so DNS, the proxy, the scheduler,
the web app and the `schoolgate` command can all ask it the same question. Where a change belongs:

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

The concern pipeline, on the database:

- `states`: the words of a concern record (states, subjects, routes, sources, escalations);
- `routing`: who a concern is about and who hears of it; `concerns`: raising and folding, audited;
- `context`: the frozen events around a concern; `cursor`: reading every access event once;
- `watcher`: the scheduler's concern watcher; `notify`: at-once mail and the daily digest;
- `phrases_store`: the school's list in the database; `weekly`: the weekly report's counts;
- `service`: what the admin web calls (visibility, triage, notes, a pupil's page, raising by hand).
"""
