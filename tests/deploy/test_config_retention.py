"""`[retention]`: each period has a default, can be set, and must be at least one day (the key is named)."""

from __future__ import annotations

from pathlib import Path

import pytest

from deploy.config import ConfigError, load_config


def test_the_defaults_keep_access_logs_90_days_closed_bans_a_year_and_the_audit_six_years() -> None:
    retention = load_config(None).retention
    assert (retention.access_log_days, retention.ban_days, retention.audit_days) == (90, 365, 2190)


def test_each_period_can_be_set(tmp_path: Path) -> None:
    path = tmp_path / "schoolgate.toml"
    path.write_text("[retention]\naccess_log_days = 30\nban_days = 180\naudit_days = 3650\n")
    retention = load_config(path).retention
    assert (retention.access_log_days, retention.ban_days, retention.audit_days) == (30, 180, 3650)


@pytest.mark.parametrize("key", ["access_log_days", "ban_days", "audit_days"])
@pytest.mark.parametrize(("value", "message"), [
    ("0", "must be at least 1 day"),
    ("-5", "must not be negative"),
    ("'a year'", "must be a whole number"),
    ("true", "must be a whole number"),
])
def test_a_period_under_a_day_or_not_a_number_names_the_key_and_the_file(tmp_path: Path, key: str, value: str,
                                                                          message: str) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(f"[retention]\n{key} = {value}\n")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert f"'retention.{key}' {message}" in str(info.value) and str(path) in str(info.value)
