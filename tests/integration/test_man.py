"""The manual page (issue 14): man/sluice.1 documents every command and option that
`sluice --help` and `sluice <command> --help` list, every exit code and every setting the
README's tables name; it renders without warnings (groff, and man -l when present), and
`make install PREFIX=...` installs it beside the binary."""
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from conftest import ROOT, SLUICE

MAN = ROOT / "man" / "sluice.1"


def help_text(*args):
    p = subprocess.run([str(SLUICE), *args, "--help"], capture_output=True, text=True, timeout=30)
    assert p.returncode == 0, p.stderr
    return p.stdout


def commands():
    text = help_text()
    block = text.split("Commands:\n", 1)[1].split("\n\n", 1)[0]
    return [line.split()[0] for line in block.splitlines() if line.strip()]


def flags(text):
    return set(re.findall(r"(?<![\w-])(--[a-z][a-z0-9-]*)", text)) | set(re.findall(r"(?<![\w-])(-[a-zA-Z])\b", text))


def man_source_text():
    """The page's text with roff escapes undone (\\- is a hyphen, font changes dropped)."""
    s = MAN.read_text()
    s = s.replace("\\-", "-").replace("\\(mu", "x")
    return re.sub(r"\\f[BIRP]", "", s)


def test_every_command_and_option_is_documented():
    text = man_source_text()
    cmds = commands()
    assert {"run", "export", "seed", "check", "inspect"} <= set(cmds)
    missing = []
    for cmd in cmds:
        assert re.search(rf"^\.TP\n\.B {cmd}$", text, re.M), f"command {cmd} has no entry in COMMANDS"
        for f in sorted(flags(help_text(cmd))):
            if f not in text:
                missing.append(f"{cmd} {f}")
    for f in sorted(flags(help_text())):
        if f not in text:
            missing.append(f"(global) {f}")
    assert not missing, f"options in --help but not in man/sluice.1: {missing}"


def test_exit_codes_and_settings_are_documented():
    text = man_source_text()
    status = text.split(".SH EXIT STATUS", 1)[1].split(".SH ", 1)[0]
    readme = (ROOT / "README.md").read_text()
    codes = re.findall(r"^\| (\d+) \|", readme.split("\n## Exit codes\n", 1)[1].split("\n## ", 1)[0], re.M)
    assert codes[:9] == [str(i) for i in range(9)]
    assert re.findall(r"^\.B (\d+)$", status, re.M) == codes
    settings = set()
    for block in re.findall(r"^\| setting \|.*?\n((?:\|.*\n)+)", readme, re.M):   # the README's settings tables
        for line in block.splitlines():
            settings |= set(re.findall(r"`([A-Z][A-Z0-9_]+)`", line.split("|")[1]))
    assert {"MYSQL_HOST", "MYSQL_PASSWORD", "S3_ENDPOINT", "SLUICE_OUTPUT"} <= settings
    assert sorted(s for s in settings if s not in text) == []
    version = subprocess.run([str(SLUICE), "--version"], capture_output=True, text=True).stdout.split()[2]
    assert re.search(rf'^\.TH SLUICE 1 "[0-9-]+" "sluice {re.escape(version)}"', text, re.M)


@pytest.mark.skipif(not shutil.which("groff"), reason="groff is not installed")
def test_renders_without_warnings():
    p = subprocess.run(["groff", "-man", "-ww", "-z", str(MAN)], capture_output=True, text=True, timeout=60)
    assert p.returncode == 0 and p.stderr == "", p.stderr
    p = subprocess.run(["groff", "-man", "-Tutf8", str(MAN)], capture_output=True, text=True, timeout=60)
    out = re.sub(r".\x08", "", p.stdout)
    for section in ("NAME", "SYNOPSIS", "COMMANDS", "GLOBAL OPTIONS", "SETTINGS", "EXIT STATUS"):
        assert re.search(rf"^{section}$", out, re.M), section


def test_make_install(tmp_path):
    prefix = tmp_path / "prefix"
    p = subprocess.run(["make", "-C", str(ROOT), "install", f"PREFIX={prefix}", f"B={SLUICE.parent}"],
                       capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stdout + p.stderr
    binary, page = prefix / "bin" / "sluice", prefix / "share" / "man" / "man1" / "sluice.1"
    assert binary.read_bytes() == SLUICE.read_bytes() and binary.stat().st_mode & 0o111
    assert page.read_bytes() == MAN.read_bytes()
    v = subprocess.run([str(binary), "--version"], capture_output=True, text=True)
    assert v.returncode == 0 and v.stdout.startswith("sluice version ")
    if shutil.which("man"):
        m = subprocess.run(["man", "-l", str(page)], capture_output=True, text=True, timeout=60,
                           env={"PATH": "/usr/bin:/bin", "MANPAGER": "cat", "PAGER": "cat", "MANWIDTH": "100",
                                "LANG": "C.UTF-8"})
        assert m.returncode == 0, m.stderr
        assert "EXIT STATUS" in m.stdout and "--metrics-file" in m.stdout.replace("\u2010", "-")
    # the manual is found through MANPATH, as `man sluice` would after a real install
    if shutil.which("man"):
        m = subprocess.run(["man", "sluice"], capture_output=True, text=True, timeout=60,
                           env={"PATH": "/usr/bin:/bin", "MANPATH": str(prefix / "share" / "man"), "MANPAGER": "cat",
                                "PAGER": "cat", "LANG": "C.UTF-8"})
        assert m.returncode == 0 and "SLUICE(1)" in m.stdout, m.stderr
