"""HTTP/1.1 for the recorded server, on the standard library alone: request framing by
RFC 9112, strict where it says to reject, with deadlines and limits in bytes, and a cap on
connections. Every request gets an HTTP answer: a GLM-shaped 4xx for a client's mistake, a
GLM-shaped 500 (and one line on stderr) only for a bug here.

    reader.py      a request from bytes (no socket): head, body, or FramingError(status)
    writer.py      a response's bytes: head, Content-Length, chunked, close-delimited
    connection.py  one connection: keep-alive, deadlines, the per-request interface apps use
    listener.py    the accept loop, the connection cap, eviction, the 503 past the cap
    limits.py      Limits, the default cap, the bytes all bodies may hold (ByteBudget)

What to answer is the app's business (connection.Site): the server's app answers
`app(handler, body)` with the handler's send_* methods.
"""

from .connection import Connection, NoAnswer, Site, States
from .limits import (
    CONNECTIONS_AT_MOST,
    ByteBudget,
    Limits,
    address_group,
    default_connection_cap,
    file_limit,
    log,
    parsed_cost,
)
from .listener import Listener, Refusal, address_reuse_option
from .reader import BodyAccount, ClientGone, FramingError, Headers, Request, RequestReader
from .writer import JSON_CONTENT_TYPE, ResponseWriter, dumps, response_head

__all__ = ["CONNECTIONS_AT_MOST", "JSON_CONTENT_TYPE", "BodyAccount", "ByteBudget", "ClientGone",
           "Connection", "FramingError", "Headers", "Limits", "Listener", "NoAnswer", "Refusal",
           "Request", "RequestReader", "ResponseWriter", "Site", "States", "address_group",
           "address_reuse_option", "default_connection_cap", "dumps",
           "file_limit", "log", "parsed_cost", "response_head"]
