"""The policy domain of schoolgate: host names, lists, the decision, devices, bans and storage.

Nothing here imports mitmproxy, dnslib or Flask: DNS, the proxy and the web app all stand on this
package so that they can never disagree about what is blocked. Where a change belongs:

- `rules.policy`: the decision and what it reads: host names (`names`), the domain matcher, `Decision`,
  `decide()`, the compiled `PolicySnapshot`, the compiler, the built-in catalogue (`builtin_lists/`),
  client networks, and `current` (the snapshot DNS and the proxy hold now);
- `rules.store`: what is stored and how: engines and sessions (`db`), the models, the schema and its
  Alembic `migrations/`, the audit log, the access events' writer (`event_writer`) and reader (`access_log`);
- `rules.monitoring`: circumvention: the detector, the watcher that turns its verdicts into bans or alerts,
  the headteacher's ban decisions (`bans`) and the ban notice email;
- `rules.safeguarding`: safeguarding monitoring: the phrase catalogue, normalisation, the school's phrase
  file and the matcher that says what a search, a site or a URL path would raise for the DSL, and why;
- `rules.automatic`: what devices look up on their own (resolver probes, connectivity checks), never a
  person's doing: the detector and safeguarding matching ask it;
- `rules.lists`: block lists: parsing list files (`parse`), the safe download (`fetch`) and importing a
  parsed list into a category (`importer`);
- `rules.devices`: the device registry, the lease and neighbour-table parsers, and syncing the registry
  from them;
- `rules.workflows`: what people do in the admin web: access requests, content reports, accounts, the ICT
  technician's catalogue changes (`catalogue_admin`) and the URLs typed into forms;
- `rules.jobs`: the scheduler's jobs, one a module (`retention` deletes personal data past its period);
- `rules.privacy`: subject access and erasure: everything held about one person, exported or erased;
- `rules.localtime`: London time, the school's clock.
"""
