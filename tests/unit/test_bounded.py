from collections import OrderedDict

from wingman import bounded


def test_put_drops_the_oldest_past_the_limit() -> None:
    table: OrderedDict[str, int] = OrderedDict()
    for i, key in enumerate("abcd"):
        bounded.put(table, key, i, limit=3)
    assert list(table) == ["b", "c", "d"]


def test_put_keeps_first_insertion_order_unless_refreshed() -> None:
    fifo: OrderedDict[str, int] = OrderedDict()
    lru: OrderedDict[str, int] = OrderedDict()
    for table, refresh in ((fifo, False), (lru, True)):
        bounded.put(table, "a", 1, limit=2, refresh=refresh)
        bounded.put(table, "b", 2, limit=2, refresh=refresh)
        bounded.put(table, "a", 3, limit=2, refresh=refresh)  # seen again
        bounded.put(table, "c", 4, limit=2, refresh=refresh)
    assert dict(fifo) == {"b": 2, "c": 4}
    assert dict(lru) == {"a": 3, "c": 4}
