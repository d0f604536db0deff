"""Writing a reply: a JSON body, or SSE events with the stream options (chunking, line
endings, charset, pacing; see glm_offline.options) and the faults that cut or stall them."""

import random

from .wire import SSE_CONTENT_TYPE, SSE_CONTENT_TYPE_NO_CHARSET

STREAM_REPLAY_CAP_MS = 2000  # realistic pacing replays recorded gaps, at most ~2 s a stream


def encode_event(lines, line_ending):
    newline = "\r\n" if line_ending == "crlf" else "\n"
    return (newline.join(lines) + newline + newline).encode("utf-8")


def hostile_pieces(data, seed):
    """Split bytes into 1-5 byte pieces: through multi-byte characters and CRLF pairs."""
    rng = random.Random(seed)
    pieces, start = [], 0
    while start < len(data):
        size = rng.randint(1, 5)
        pieces.append(data[start:start + size])
        start += size
    return pieces


def pacing_scale(delays_ms, pacing):
    """What each recorded gap is multiplied by: 0 for instant pacing (or no gaps), else the
    share that fits the whole stream into STREAM_REPLAY_CAP_MS (1 when it fits already)."""
    if pacing != "realistic" or sum(delays_ms) <= 0:
        return 0.0
    return min(1.0, STREAM_REPLAY_CAP_MS / sum(delays_ms))


def stream_pieces(reply, options, exchange):
    """The streamed body of `reply` as (seconds to wait first, bytes) pieces, in order: the
    recorded pacing, a stall, and the chunking, as the options say. A consumer writes each
    piece after its wait; once it has written an event's last piece and asks for the next
    one, the event counts as sent (exchange.event_written). The socket path (write_reply)
    and the in-process transport (inprocess.py) both write what this generates."""
    delays = reply.delays_ms
    scale = pacing_scale(delays, options["pacing"])
    for index, (event, delay) in enumerate(zip(reply.events, delays)):
        wait = delay * scale / 1000 if scale else 0.0
        if reply.stall and reply.stall[0] == index:
            if wait:
                yield wait, b""
            exchange.outcome = "stalled"
            wait = reply.stall[1]
        data = encode_event(event, options["line_ending"])
        pieces = hostile_pieces(data, index) if options["chunking"] == "hostile" else [data]
        for number, piece in enumerate(pieces):
            yield (wait if number == 0 else 0.0), piece
        exchange.event_written(event)
    if reply.drop:
        exchange.outcome = "dropped"


def start_reply(handler, reply, options):
    """Answer a JSON reply whole (True), or send a streamed reply's head (False): its body
    comes from stream_pieces(), and end_stream() ends it."""
    handler.exchange.source = reply.source
    if reply.json is not None:
        handler.send_json(reply.status, reply.json, reply.source, reply.headers or ())
        return True
    content_type = SSE_CONTENT_TYPE if options["charset"] else SSE_CONTENT_TYPE_NO_CHARSET
    handler.start_chunked(reply.status, content_type, reply.headers or ())
    return False


def end_stream(handler, reply):
    """After the last piece: a recorded drop cuts the connection, else the body ends."""
    if reply.drop:
        return handler.abort()
    handler.end_chunked()


def write_reply(handler, reply, options, wait, stopping):
    """Send `reply` (a cassettes.Reply) through `handler`; `wait(seconds)` sleeps unless the
    server stops, `stopping()` says whether it is stopping."""
    if start_reply(handler, reply, options):
        return None
    for delay, piece in stream_pieces(reply, options, handler.exchange):
        if delay:
            wait(delay)
        if stopping():
            return handler.abort()
        handler.write_chunk(piece)
    return end_stream(handler, reply)
