"""What the recording proxy may print of a request's path: never its query, never a secret."""

from glm_offline.record import shown_path


def test_a_query_is_never_printed():
    assert shown_path("/api/paas/v4/chat/completions?api_key=abcdef1234567890") == \
        "/api/paas/v4/chat/completions"


def test_a_secret_in_the_path_is_redacted():
    secret = "s3cr3t-s3cr3t-s3cr3t"
    assert shown_path(f"/api/paas/v4/{secret}/chat/completions", [secret]) == \
        "/api/paas/v4/<redacted>/chat/completions"
