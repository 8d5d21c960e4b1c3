"""The keys this part adds: [gateway] lease_files and [smtp] (an empty host means the report is not emailed)."""

from __future__ import annotations

from pathlib import Path

import pytest

from deploy.config import ConfigError, load_config
from deploy.scheduler import mail_settings


def test_defaults_mean_no_email_and_the_usual_lease_files() -> None:
    config = load_config(None)
    assert not mail_settings(config).enabled
    assert config.gateway.lease_files == ("/var/lib/misc/dnsmasq.leases", "/var/lib/kea/kea-leases4.csv")


def test_smtp_section_is_read(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text('[smtp]\nhost = "mail.school.example"\nport = 587\nfrom_address = "gate@school.example"\n'
                    'to = ["head@school.example", "dsl@school.example"]\nstarttls = true\n')
    mail = mail_settings(load_config(path))
    assert mail.enabled and mail.port == 587 and mail.starttls and mail.to == ("head@school.example",
                                                                               "dsl@school.example")


@pytest.mark.parametrize(("text", "message"), [
    ("[smtp]\nport = 70000\n", "'smtp.port' must be a port"),
    ('[smtp]\nto = ["headteacher"]\n', "'smtp.to' must hold email addresses"),
    ('[smtp]\nfrom = "x@y"\n', "unknown key 'smtp.from'"),
])
def test_bad_smtp_values_name_the_key(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "c.toml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=message):
        load_config(path)
