"""curl as an IMAP client (imap:// and imaps:// URLs, RFC 5092): LIST,
FETCH by UID, APPEND with -T, a custom SEARCH, STARTTLS with --ssl-reqd,
implicit TLS, and a refused login.
"""

import shutil
import subprocess

import pytest

import imap_helpers as ih

USER = "curly"
FIRST = b"From: a@example.org\r\nSubject: curl one\r\n\r\nfirst body\r\n"
SECOND = (b"From: a@example.org\r\nSubject: curl two\r\n\r\n"
          b"second body\r\n\xe9t\xe9 8-bit\r\n")

pytestmark = pytest.mark.skipif(shutil.which("curl") is None,
                                reason="curl is not installed (scripts/deps.sh)")


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    with ih.imap_env(tmp_path_factory.mktemp("imap-curl"), users=[USER]) as e:
        yield e


@pytest.fixture(scope="module")
def uids(env):
    """INBOX holds SECOND (and an expunged FIRST before it), so the UID
    and the sequence number of SECOND differ."""
    with env.raw(USER) as c:
        c.append("INBOX", FIRST)
        r = c.append("INBOX", SECOND)
        second = int(r.code.split()[2])
        c.select("INBOX")
        c.ok("STORE 1 +FLAGS.SILENT (\\Deleted)")
        c.ok("EXPUNGE")
        assert c.uids() == [second] and second > 1
        c.ok("CREATE Uploads")
    return {"second": second}


def curl(env, path, *args, scheme="imap", port=None, pw=None):
    port = port or (env.imaps if scheme == "imaps" else env.imap)
    url = f"{scheme}://127.0.0.1:{port}/{path}"
    argv = ["curl", "-sS", "--max-time", "20", "--user",
            f"{ih.addr(USER)}:{pw or env.pw(USER)}", *args, url]
    return subprocess.run(argv, capture_output=True, timeout=30)


def ok(res):
    assert res.returncode == 0, (
        f"{res.args} exited {res.returncode}: {res.stderr.decode(errors='replace')}")
    return res.stdout


def test_curl_list(env, uids):
    out = ok(curl(env, ""))
    lines = [ln for ln in out.split(b"\r\n") if ln]
    boxes = ih.lists(lines)
    assert {"INBOX", "Uploads", *ih.SPECIAL} <= set(boxes), out
    assert "\\sent" in boxes["Sent"][0]


@pytest.mark.parametrize("form", ["INBOX;UID={}", "INBOX/;UID={}"])
def test_curl_fetch_by_uid(env, uids, form):
    out = ok(curl(env, form.format(uids["second"])))
    assert out == SECOND


def test_curl_fetch_missing_uid_fails(env, uids):
    res = curl(env, f"INBOX;UID={uids['second'] + 50}")
    assert res.returncode != 0 or res.stdout == b"", res


def test_curl_append(env, uids, tmp_path):
    data = (b"From: curl@example.org\r\nTo: curly@example.test\r\n"
            b"Subject: uploaded by curl\r\n\r\nline 1\r\n.\r\nline 3\r\n")
    f = tmp_path / "upload.eml"
    f.write_bytes(data)
    ok(curl(env, "Uploads", "-T", str(f)))
    with env.raw(USER) as c:
        c.select("Uploads")
        got = c.fetch("*", "(BODY.PEEK[] RFC822.SIZE)")
        (only,) = got.values()
        assert only["BODY[]"] == data
        assert int(only["RFC822.SIZE"]) == len(data)


def test_curl_custom_search(env, uids):
    out = ok(curl(env, "INBOX", "-X", "UID SEARCH SUBJECT two"))
    assert ih.search_result([ln for ln in out.split(b"\r\n") if ln]) == [uids["second"]], out


def test_curl_starttls_required(env, uids):
    out = ok(curl(env, f"INBOX;UID={uids['second']}", "--ssl-reqd", "-k"))
    assert out == SECOND


def test_curl_imaps(env, uids):
    out = ok(curl(env, f"INBOX;UID={uids['second']}", "-k", scheme="imaps"))
    assert out == SECOND


def test_curl_wrong_password_is_refused(env, uids):
    res = curl(env, "", pw="not-the-password")
    assert res.returncode == 67, (res.returncode, res.stderr)   # login denied
