"""The keys this part adds: [gateway] lease_files and [smtp] (an empty host means the report is not emailed;
TLS is STARTTLS unless `tls` says otherwise)."""

from __future__ import annotations

from pathlib import Path

import pytest

from deploy.config import ConfigError, load_config
from deploy.scheduler import mail_settings
from rules.mail import SmtpTls


def test_defaults_mean_no_email_and_the_usual_lease_files() -> None:
    config = load_config(None)
    assert not mail_settings(config).enabled
    assert config.gateway.lease_files == ("/var/lib/misc/dnsmasq.leases", "/var/lib/kea/kea-leases4.csv")


def test_smtp_section_is_read(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text('[smtp]\nhost = "mail.school.example"\nport = 587\nfrom_address = "gate@school.example"\n'
                    'to = ["head@school.example", "dsl@school.example"]\ntls = "tls"\n')
    mail = mail_settings(load_config(path))
    assert mail.enabled and mail.port == 587 and mail.tls == SmtpTls.TLS and mail.to == ("head@school.example",
                                                                                         "dsl@school.example")


def test_smtp_uses_starttls_unless_told_otherwise() -> None:
    assert mail_settings(load_config(None)).tls == SmtpTls.STARTTLS


@pytest.mark.parametrize(("text", "message"), [
    ("[smtp]\nport = 70000\n", "'smtp.port' must be a port"),
    ('[smtp]\nto = ["headteacher"]\n', "'smtp.to' must hold email addresses"),
    ('[smtp]\nfrom = "x@y"\n', "unknown key 'smtp.from'"),
    ('[smtp]\ntls = "ssl"\n', "'smtp.tls' must be one of starttls, tls, none"),
    ('[smtp]\ntls = true\n', "'smtp.tls' must be a string"),
    # the old key would otherwise be read as "no TLS" by anyone who kept it: a clear error instead
    ("[smtp]\nstarttls = true\n", "'smtp.starttls' was replaced by 'smtp.tls': write tls = \"starttls\""),
    ("[smtp]\nstarttls = false\n", "'smtp.starttls' was replaced by 'smtp.tls'"),
])
def test_bad_smtp_values_name_the_key(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "c.toml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=message):
        load_config(path)
