import json

from expo_push import PushMessage
from expo_push._chunks import Chunker
from expo_push._validation import prepare_message
from expo_push._wire import encode_entries


def tok(i):
    return f"ExponentPushToken[{i:020d}]"


def prepared(messages):
    return [prepare_message(m, i) for i, m in enumerate(messages)]


def test_list_recipients_count_toward_the_100_limit():
    chunks = list(Chunker(prepared([{"to": [tok(i) for i in range(150)]}])))
    assert [c.count for c in chunks] == [100, 50]
    assert chunks[0].recipients == [tok(i) for i in range(100)]
    assert chunks[1].recipients == [tok(i) for i in range(100, 150)]


def test_small_messages_share_a_request():
    chunks = list(Chunker(prepared([{"to": tok(i)} for i in range(250)])))
    assert [c.count for c in chunks] == [100, 100, 50]
    assert [len(c.entries) for c in chunks] == [100, 100, 50]
    assert [c.seq for c in chunks] == [0, 1, 2]


def test_a_list_message_is_split_where_the_chunk_fills():
    messages = [{"to": [tok(i) for i in range(60)]}, {"to": [tok(100 + i) for i in range(60)]}]
    chunks = list(Chunker(prepared(messages)))
    assert [c.count for c in chunks] == [100, 20]
    assert [len(e.recipients) for e in chunks[0].entries] == [60, 40]
    assert chunks[1].entries[0].recipients == tuple(tok(100 + i) for i in range(40, 60))


def test_generator_input_is_read_lazily():
    read = []

    def messages():
        for i in range(1000):
            read.append(i)
            yield prepare_message({"to": tok(i)}, i)

    chunker = Chunker(messages())
    next(chunker)
    assert len(read) == 100


def test_leftover_returns_what_was_read_but_not_chunked_narrowed():
    chunker = Chunker(prepared([{"to": tok(0)}, {"to": [tok(i) for i in range(1, 200)], "title": "t"}, {"to": tok(9)}]))
    next(chunker)  # tok(0) and 99 of the list
    rest = chunker.drain()
    assert rest[0].message == PushMessage(to=[tok(i) for i in range(100, 200)], title="t")
    assert (rest[0].index, rest[0].recipients) == (1, tuple(range(99, 199)))
    assert rest[1].message == PushMessage(to=tok(9))
    assert (rest[1].index, rest[1].recipients) == (2, (0,))
    assert chunker.read == 201
    assert list(chunker) == []


def test_request_body_is_the_json_array_of_the_messages():
    chunk = next(Chunker(prepared([{"to": tok(1), "title": "a", "data": {"k": 1}}, {"to": [tok(2), tok(3)]}])))
    assert json.loads(encode_entries(chunk.entries)) == [
        {"to": tok(1), "title": "a", "data": {"k": 1}},
        {"to": [tok(2), tok(3)]},
    ]


def test_a_whole_send_holds_each_validated_message_in_its_chunk_alone():
    # send() validates every message first; once a message is in a chunk the batch lets go of it, so a settled
    # chunk's messages are freed and a large send's memory shrinks as it goes.
    import gc

    from expo_push._batch import SendBatch

    batch = SendBatch([{"to": tok(i)} for i in range(250)], whole=True)
    chunk = batch.next_chunk()
    assert chunk is not None
    prepared = chunk.entries[0].prepared
    assert gc.get_referrers(prepared) == []  # only the chunk's entry (untracked) holds it
    rest = batch.next_chunk()
    assert rest is not None
    assert [e.prepared.index for e in rest.entries] == list(range(100, 200))
