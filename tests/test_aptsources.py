"""Reading the host's Debian mirror from apt's sources, in both of apt's formats."""

from harness.aptsources import debian_mirrors


def apt_dir(tmp_path, sources_list="", **parts):
    (tmp_path / "sources.list.d").mkdir()
    (tmp_path / "sources.list").write_text(sources_list)
    for name, text in parts.items():
        (tmp_path / "sources.list.d" / name.replace("_", ".")).write_text(text)
    return tmp_path


def test_one_line_format_with_options(tmp_path):
    d = apt_dir(
        tmp_path,
        "# comment\n"
        "deb [arch=amd64 signed-by=/usr/share/keyrings/k.gpg] "
        "http://mirror.example/debian bookworm main\n"
        "deb-src http://src.example/debian bookworm main\n"
        "deb http://security.example/debian-security bookworm-security main\n",
    )
    assert debian_mirrors(d) == (
        "http://mirror.example/debian",
        "http://security.example/debian-security",
    )


def test_deb822_format(tmp_path):
    d = apt_dir(
        tmp_path,
        debian_sources=(
            "Types: deb deb-src\nURIs: http://deb.example/debian/\n"
            "Suites: bookworm bookworm-updates\n"
            "Components: main\n\n"
            "Types: deb\nURIs: http://deb.example/debian-security\nSuites: bookworm-security\n"
            "Components: main\n"
        ),
    )
    assert debian_mirrors(d) == ("http://deb.example/debian", "http://deb.example/debian-security")


def test_disabled_and_source_only_entries_are_ignored(tmp_path):
    d = apt_dir(
        tmp_path,
        other_sources=(
            "Types: deb\nURIs: http://off.example/debian\nSuites: bookworm\nEnabled: no\n\n"
            "Types: deb-src\nURIs: http://src.example/debian\nSuites: bookworm\n"
        ),
    )
    assert debian_mirrors(d) == (None, None)
