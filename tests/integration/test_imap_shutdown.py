"""When the server stops (SIGTERM), IMAP sessions end with an untagged BYE
(RFC 3501 7.1.5) instead of a dropped connection: at once between commands
and in IDLE, after its tagged reply when a command is running. Clients
then reconnect as after a logout, instead of reporting a network error."""

import imap_helpers as ih


def bye_in(c):
    """Whether the peer closed C and sent an untagged BYE before."""
    assert c.closed_by_peer(10), "the connection stayed open"
    return any(line.startswith(b"* BYE") for line in c.buf.split(b"\r\n"))


def test_sessions_get_bye_when_the_server_stops(tmp_path):
    with ih.imap_env(tmp_path, users=["bye"]) as env:
        idling = env.raw("bye", select="INBOX")
        idling.idle()
        selected = env.raw("bye", select="INBOX")
        between = env.raw("bye")
        greeted = env.raw()
        env.server.stop()
        for name, c in (("in IDLE", idling), ("selected", selected),
                        ("logged in", between),
                        ("not logged in", greeted)):
            assert bye_in(c), f"session {name}: no BYE in {c.buf!r}"
            c.close()
        log = env.log()
        assert "reason=shutdown" in log, log[-2000:]
