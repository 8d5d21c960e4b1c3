"""List parsers: what they take, what they skip and say why, and that junk is never fatal."""

from __future__ import annotations

from pathlib import Path

import pytest

from rules.lists.parse import ListFileError, ParseReport, detect_format, line_format, parse_list

MESSY_HOSTS = """\
# A hosts file as found in the wild
127.0.0.1 localhost
127.0.0.1\tlocalhost.localdomain
::1 localhost ip6-localhost ip6-loopback
255.255.255.255 broadcasthost
0.0.0.0 0.0.0.0
0.0.0.0 ads.example.com tracker.example.org # two names on a line
0.0.0.0 WWW.Evil.Example.
0.0.0.0
this is not a hosts line
0.0.0.0 bad..name
0.0.0.0 com
0.0.0.0 bücher.example
\xff\xfe garbage bytes
0.0.0.0 ads.example.com
"""


def write(tmp_path: Path, name: str, text: str | bytes) -> Path:
    path = tmp_path / name
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def test_messy_hosts_file(tmp_path: Path) -> None:
    path = write(tmp_path, "messy.hosts", MESSY_HOSTS)
    report = ParseReport()
    found = list(parse_list(path, "auto", report))
    assert detect_format(path) == "hosts"
    assert found == ["ads.example.com", "tracker.example.org", "www.evil.example", "xn--bcher-kva.example",
                     "ads.example.com"]
    assert "localhost" not in found and "broadcasthost" not in found
    assert report.skipped["reserved local name (localhost and the like) never blocked"] >= 5
    assert report.skipped["not a valid host name"] == 1
    assert report.skipped["a single label (a top-level domain or a local name) is never listed"] == 1
    assert report.skipped["address without a name"] == 1
    assert sum(report.skipped.values()) == report.skipped_total
    assert all(len(v) <= 3 for v in report.examples.values())


def test_adblock(tmp_path: Path) -> None:
    path = write(tmp_path, "list.txt", "! Title: test\n[Adblock Plus 2.0]\n||facebook.com^\n|fbcdn-a.akamaihd.net^\n"
                                       "@@||good.example^\n||ads.example^$third-party\n||x.example^$important\n"
                                       "/banner/*\n||p16-tiktok-*.ibyteimg.com^\n||MIXED.Example^\n")
    report = ParseReport()
    assert detect_format(path) == "adblock"
    assert list(parse_list(path, "auto", report)) == ["facebook.com", "fbcdn-a.akamaihd.net", "x.example",
                                                      "mixed.example"]
    assert report.skipped_total == 4


def test_plain_domains(tmp_path: Path) -> None:
    path = write(tmp_path, "plain.txt", "# comment\nfacebook.com\n*.tiktok.com\n\n  instagram.com  # inline\n"
                                        "two words\n10.0.0.1\n")
    report = ParseReport()
    assert list(parse_list(path, "auto", report)) == ["facebook.com", "tiktok.com", "instagram.com"]
    assert report.skipped_total == 2


def test_ut1_folder(tmp_path: Path) -> None:
    (tmp_path / "blacklists" / "gambling").mkdir(parents=True)
    (tmp_path / "blacklists" / "gambling" / "domains").write_text("bet.example\ncasino.example\n")
    report = ParseReport()
    assert list(parse_list(tmp_path / "blacklists", "auto", report, category="gambling")) == [
        "bet.example", "casino.example"]
    assert list(parse_list(tmp_path / "blacklists" / "gambling", "ut1", ParseReport())) == [
        "bet.example", "casino.example"]
    with pytest.raises(ListFileError, match="not a UT1 category"):
        list(parse_list(tmp_path / "blacklists", "ut1", ParseReport(), category="nope"))


def test_binary_junk_is_counted_not_fatal(tmp_path: Path) -> None:
    path = write(tmp_path, "junk.bin", bytes(range(256)) * 20 + b"\nok.example\n")
    report = ParseReport()
    assert "ok.example" in list(parse_list(path, "domains", report))
    assert report.skipped_total >= 1


def test_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ListFileError, match="cannot read"):
        list(parse_list(tmp_path / "nope.txt", "domains", ParseReport()))


MIXED = """\
# The school's own list, kept by hand over the years
0.0.0.0 casino-one.example
127.0.0.1 casino-two.example casino-three.example  # two on a line
[Adblock Plus 2.0]
||adblock-one.example^
||adblock-two.example^$important
|adblock-exact.example^
@@||allowed.example^
||ads.example^$third-party
example.org##.banner
plain-one.example
*.plain-wild.example
plain two words
0.0.0.0
not..valid
"""


def test_auto_reads_each_line_in_its_own_syntax(tmp_path: Path) -> None:
    path = write(tmp_path, "mixed.txt", MIXED)
    report = ParseReport()
    found = list(parse_list(path, "auto", report))
    assert found == ["casino-one.example", "casino-two.example", "casino-three.example", "adblock-one.example",
                     "adblock-two.example", "adblock-exact.example", "plain-one.example", "plain-wild.example"]
    assert report.formats == {"hosts": 2, "adblock": 3, "domains": 2}
    assert report.format_label == "mixed"
    assert report.skipped == {
        "exception rule (@@) not imported: add an allow rule instead": 1,
        "rule with modifiers ($...) that DNS cannot apply": 1,
        "not a domain rule (||domain^)": 1,  # the element-hiding rule: never "example.org" plus a comment
        "more than one word on the line": 1,
        "address without a name": 1,
        "not a valid host name": 1,
    }
    assert report.examples["not a domain rule (||domain^)"] == ["line 10: example.org##.banner"]
    assert report.summary() == "2 hosts lines, 3 adblock lines, 2 plain names, 6 skipped"


def test_one_format_asked_for_reads_every_line_in_it(tmp_path: Path) -> None:
    """An explicit format is not second-guessed: the adblock lines of the mixed file are not hosts lines."""
    report = ParseReport()
    found = list(parse_list(write(tmp_path, "mixed.txt", MIXED), "hosts", report))
    assert found == ["casino-one.example", "casino-two.example", "casino-three.example"]
    assert report.formats == {"hosts": 2} and report.format_label == "hosts"
    assert report.skipped["not a hosts line (no address first)"] == 11  # the header, 6 rules, 4 plain lines


@pytest.mark.parametrize(("line", "fmt"), [
    ("0.0.0.0 a.example", "hosts"), ("::1 a.example", "hosts"), ("10.0.0.1", "hosts"),
    ("||a.example^", "adblock"), ("|a.example^", "adblock"), ("@@||a.example^", "adblock"),
    ("[Adblock Plus 2.0]", "adblock"), ("/banner/*", "adblock"), ("a.example##.ad", "adblock"),
    ("a.example#@#.ad", "adblock"), ("a.example$third-party", "adblock"),
    ("a.example", "domains"), ("*.a.example", "domains"), ("a.example  # a comment", "domains"),
    ("two words", "domains"),
])
def test_line_format(line: str, fmt: str) -> None:
    assert line_format(line) == fmt


def test_summary_of_a_single_format_and_of_nothing(tmp_path: Path) -> None:
    report = ParseReport()
    list(parse_list(write(tmp_path, "one.txt", "0.0.0.0 a.example\n"), "auto", report))
    assert report.summary() == "1 hosts line, 0 skipped" and report.format_label == "hosts"
    empty = ParseReport()
    assert list(parse_list(write(tmp_path, "junk.txt", "# nothing\nlocalhost\n"), "auto", empty)) == []
    assert empty.summary() == "1 skipped" and empty.format_label == "auto"
