"""The Python bindings against the real library: every error path the brief
names (bad dimensions, unknown collection, bad filter JSON), exact ids and
payload numbers, numpy in and out without copies, snapshots and stores."""

import os
import shutil
import tempfile
import threading
import unittest
import uuid

import numpy as np

import quiver
from quiver import core


class ScratchDir(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="quiver-py-")

    def tearDown(self):
        shutil.rmtree(self.dir, ignore_errors=True)


class TestSearch(unittest.TestCase):
    def setUp(self):
        self.c = quiver.Collection(2, "euclid")
        vecs = np.array([[i, 0] for i in range(10)], np.float32)
        self.c.upsert(np.arange(10, dtype=np.uint64), vecs)

    def test_nearest_points_best_first(self):
        hits = self.c.search([3.2, 0.0], k=3)
        self.assertEqual([h.id for h in hits], [3, 4, 2])
        self.assertAlmostEqual(hits[0].score, 0.2, places=5)
        self.assertEqual(len(self.c), 10)
        np.testing.assert_array_equal(self.c.get(7), [7, 0])

    def test_batch_results_are_views_into_one_array(self):
        r = self.c.search_batch(np.array([[0, 0], [9, 0]], np.float32), k=2)
        self.assertEqual(list(r.counts), [2, 2])
        self.assertEqual(r.ids[0, 0], 0)
        self.assertEqual(r.ids[1, 0], 9)
        self.assertEqual(r[1][1].id, 8)
        # scores and ids share the hits array's memory.
        self.assertTrue(np.shares_memory(r.scores, r.hits))
        self.assertTrue(np.shares_memory(r.ids, r.hits))
        again = self.c.search_batch(np.array([[5, 0], [1, 0]], np.float32),
                                    k=2, out=r)
        self.assertIs(again, r)
        self.assertEqual(r.ids[0, 0], 5)
        with self.assertRaises(quiver.DimError):
            self.c.search_batch(np.zeros((3, 2), np.float32), k=2, out=r)

    def test_contiguous_float32_input_is_not_copied(self):
        q = np.zeros((4, 2), np.float32)
        self.assertIs(core._floats(q, "q"), q)
        strided = np.zeros((4, 4), np.float32)[:, :2]
        self.assertIsNot(core._floats(strided, "q"), strided)
        r = self.c.search_batch(strided, k=1)
        self.assertEqual(r.ids[0, 0], 0)

    def test_delete_and_contains(self):
        self.assertIn(3, self.c)
        self.assertEqual(self.c.delete([3, 77]), 1)
        self.assertNotIn(3, self.c)

    def test_threads_search_and_write_concurrently(self):
        def work(t):
            for i in range(50):
                self.c.upsert(1000 * (t + 1) + i, [i, t])
                self.c.search([0, 0], k=3)
        threads = [threading.Thread(target=work, args=(t,)) for t in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.assertEqual(self.c.count(), 210)


class TestErrors(unittest.TestCase):
    def test_bad_dimensions(self):
        c = quiver.Collection(4)
        with self.assertRaises(quiver.DimError) as cm:
            c.upsert(1, [1, 2, 3])
        self.assertIn("3 components", cm.exception.message)
        self.assertEqual(cm.exception.status, "QV_EDIM")
        self.assertTrue(str(cm.exception).startswith("QV_EDIM: "))
        with self.assertRaises(quiver.DimError):
            c.search([1, 2], k=1)
        with self.assertRaises(quiver.DimError):
            c.upsert([1, 2], np.zeros((3, 4)))
        with self.assertRaises(quiver.DimError):
            c.search_batch(np.zeros((2, 3)), k=1)
        with self.assertRaises(quiver.DimError):
            c.search(np.zeros((2, 4)), k=1)
        self.assertEqual(c.count(), 0)
        # DimError is a ValueError too, as Python code expects.
        self.assertTrue(issubclass(quiver.DimError, ValueError))

    def test_bad_filter_json(self):
        with self.assertRaises(quiver.InvalidError) as cm:
            quiver.Filter('{"must": [')
        self.assertTrue(cm.exception.message)
        with self.assertRaises(quiver.InvalidError) as cm:
            quiver.Filter({"must": [{"key": "a", "range": {}}]})
        self.assertIn("range", cm.exception.message)
        c = quiver.Collection(1)
        with self.assertRaises(quiver.InvalidError):
            c.search([1.0], k=1, filter="{nope")

    def test_unknown_collection(self):
        with quiver.Store() as s:
            with self.assertRaises(quiver.NotFoundError):
                s.get("nope")
            with self.assertRaises(quiver.NotFoundError):
                s.drop("nope")
        vs = quiver.VectorStore()
        with self.assertRaises(quiver.NotFoundError):
            vs.search("nope", [1.0], 1)
        with self.assertRaises(quiver.NotFoundError):
            vs.index("nope", [[1.0]], [{}])

    def test_other_errors(self):
        c = quiver.Collection(2)
        with self.assertRaises(quiver.NonFiniteError):
            c.upsert(1, [float("nan"), 0])
        with self.assertRaises(quiver.RangeError):
            c.search([0, 0], k=0)
        with self.assertRaises(quiver.RangeError):
            c.upsert(-1, [0, 0])
        with self.assertRaises(quiver.RangeError):
            c.upsert(1 << 64, [0, 0])
        with self.assertRaises(quiver.InvalidError):
            c.upsert("not-a-uuid", [0, 0])
        with self.assertRaises(quiver.NotFoundError):
            c.payload(5)
        c.upsert(1, [0, 0])
        with self.assertRaises(quiver.InvalidError):
            c.set_payload(1, [1, 2])
        with self.assertRaises(quiver.InvalidError):
            c.upsert([1], [[0, 0]], payloads=["{bad"])
        with self.assertRaises(quiver.InvalidError):
            c.upsert([1, 2], [[0, 0], [1, 1]], payloads=[{}])
        with self.assertRaises(quiver.InvalidError):
            quiver.Collection(2, "hamming")
        with self.assertRaises(quiver.RangeError):
            quiver.Collection(0)
        with self.assertRaises(quiver.InvalidError):
            c.create_index("k", "nonsense")
        self.assertEqual(c.scroll(limit=2**62), ([1], None))
        with self.assertRaises(quiver.RangeError):
            c.scroll(limit=0)


class TestExactValues(unittest.TestCase):
    def test_ids_above_2_pow_53_round_trip(self):
        c = quiver.Collection(1, "euclid")
        big = [2**64 - 1, 2**53 + 1, 2**63 + 12345]
        c.upsert(big, [[1.0], [2.0], [3.0]])
        ids, nxt = c.scroll(limit=10)
        self.assertEqual(ids, sorted(big))
        self.assertIsNone(nxt)
        self.assertEqual(c.search([1.0], k=1)[0].id, 2**64 - 1)
        r = c.search_batch(np.array([[2.0]], np.float32), k=1)
        self.assertEqual(int(r.ids[0, 0]), 2**53 + 1)
        # Numpy uint64 id arrays too.
        c.upsert(np.array([2**64 - 2], np.uint64), [[9.0]])
        self.assertIn(2**64 - 2, c)

    def test_uuid_ids(self):
        c = quiver.Collection(1, "euclid")
        u = uuid.UUID("550e8400-e29b-41d4-a716-446655440000")
        c.upsert(["{550E8400-E29B-41D4-A716-446655440000}"], [[1.0]])
        c.upsert(7, [2.0])
        ids, _ = c.scroll()
        self.assertEqual(ids, [7, u])  # integers before UUIDs, as Qdrant
        self.assertEqual(c.search([1.0], k=1)[0].id, u)

    def test_payload_numbers_round_trip(self):
        c = quiver.Collection(1)
        payload = {"big": 2**64 - 1, "neg": -2**63, "odd": 2**53 + 1,
                   "one": 1.0, "tenth": 0.1, "tiny": 5e-324,
                   "max": 1.7976931348623157e308, "text": "\u00e9\u2603"}
        c.upsert([1], [[1.0]], payloads=[payload])
        back = c.payload(1)
        self.assertEqual(back, payload)
        for k, v in payload.items():
            self.assertIs(type(back[k]), type(v), k)
        self.assertEqual(c.count({"must": [{"key": "odd", "match": {
            "value": 2**53 + 1}}]}), 1)
        self.assertEqual(c.count({"must": [{"key": "odd", "match": {
            "value": 2**53}}]}), 0)


class TestPayloads(unittest.TestCase):
    def test_edits_indexes_filters(self):
        c = quiver.Collection(1, "euclid")
        c.upsert([1, 2, 3, 4], [[1], [2], [3], [4]],
                 payloads=[{"t": "a"}, {"t": "b"}, {"t": "a"}, None])
        self.assertEqual(c.payload(4), {})
        c.create_index("t", "keyword")
        self.assertEqual(c.indexes(), {"t": "keyword"})
        f = quiver.Filter({"must": [{"key": "t", "match": {"value": "a"}}]})
        self.assertEqual([h.id for h in c.search([4], k=10, filter=f)],
                         [3, 1])
        self.assertEqual(c.scroll(filter=f, limit=1), ([1], 3))
        c.merge_payload(2, {"x": 1})
        self.assertEqual(c.payload_json(2), '{"t":"b","x":1}')
        c.delete_payload_keys(2, ["t"])
        self.assertEqual(c.payload(2), {"x": 1})
        c.clear_payload(2)
        self.assertEqual(c.payload(2), {})
        self.assertEqual(c.delete_filter(f), 2)
        self.assertEqual(c.count(), 2)
        c.upsert([5, 6], [[5], [6]], payloads=[
            {"t": "z", "n": 2**64 - 1, "b": True}, {"t": "z", "n": -3}])
        self.assertEqual(c.facet("t"), [("z", 2)])
        c.create_index("n", "integer")
        self.assertEqual(c.facet("n", limit=5), [(-3, 1), (2**64 - 1, 1)])
        c.create_index("b", "bool")
        self.assertEqual(c.facet("b", {"must": [{"key": "t", "match": {
            "value": "z"}}]}), [(True, 1)])
        with self.assertRaises(quiver.NotFoundError):
            c.facet("nope")
        with self.assertRaises(quiver.RangeError):
            c.facet("t", limit=0)
        c.drop_index("t")
        with self.assertRaises(quiver.NotFoundError):
            c.drop_index("t")


class TestSnapshots(ScratchDir):
    def test_round_trip_and_damage(self):
        c = quiver.Collection(2, "dot")
        c.upsert([2**64 - 1], [[1, 2]], payloads=[{"k": 1}])
        path = os.path.join(self.dir, "c.qvs")
        c.save_snapshot(path)
        quiver.verify_snapshot(path)
        info = quiver.describe_snapshot(path)
        self.assertEqual((info["dim"], info["metric"], info["points"]),
                         (2, "dot", 1))
        back = quiver.Collection.open_snapshot(path, verify=True)
        self.assertEqual(back.config, c.config)
        self.assertEqual(back.payload(2**64 - 1), {"k": 1})
        np.testing.assert_array_equal(back.get(2**64 - 1), [1, 2])
        junk = os.path.join(self.dir, "junk.qvs")
        with open(junk, "wb") as f:
            f.write(b"not a snapshot, only some bytes of junk")
        with self.assertRaises((quiver.FormatError, quiver.CorruptError)):
            quiver.Collection.open_snapshot(junk)
        with self.assertRaises(quiver.IOFailure) as cm:
            quiver.Collection.open_snapshot(os.path.join(self.dir, "absent"))
        self.assertIn("absent", cm.exception.message)
        c.export_json(os.path.join(self.dir, "c.json"))
        with open(os.path.join(self.dir, "c.json")) as f:
            self.assertIn("18446744073709551615", f.read())
        imp = quiver.Collection.import_json(os.path.join(self.dir, "c.json"),
                                            "dot")
        self.assertEqual(imp.payload(2**64 - 1), {"k": 1})


class TestStores(ScratchDir):
    def test_in_memory(self):
        s = quiver.Store()
        c, created = s.ensure("docs", 3)
        self.assertTrue(created)
        self.assertFalse(s.ensure("docs", 3)[1])
        with self.assertRaises(quiver.ExistsError):
            s.ensure("docs", 4)
        with self.assertRaises(quiver.ExistsError):
            s.create("docs", 3)
        with self.assertRaises(quiver.InvalidError):
            s.create("a/b", 3)
        c.upsert(1, [1, 0, 0])
        self.assertEqual(s.total_points(), 1)
        self.assertEqual(s.list(), ["docs"])
        s.close()
        self.assertEqual(c.count(), 1)  # a collection outlives its store
        with self.assertRaises(quiver.InvalidError):
            s.list()

    def test_close_waits_for_calls_in_flight(self):
        # qv_store_close must not overlap another call on the store: close()
        # marks the store closed at once, then waits for the call running.
        s = quiver.Store()
        entered, release, order = threading.Event(), threading.Event(), []

        def slow_call(handle):
            entered.set()
            release.wait()
            order.append("call returned")
            return 0

        caller = threading.Thread(target=s._call, args=(slow_call,))
        caller.start()
        entered.wait()
        closer = threading.Thread(target=lambda: (s.close(),
                                                  order.append("closed")))
        closer.start()
        while s._handle is not None:  # close() has begun
            threading.Event().wait(0.001)
        with self.assertRaises(quiver.InvalidError):
            s.list()  # new calls are refused while close waits
        self.assertTrue(closer.is_alive())
        release.set()
        caller.join()
        closer.join()
        self.assertEqual(order, ["call returned", "closed"])

    def test_durable(self):
        with quiver.Store.open_dir(self.dir) as s:
            s.create("d", 1).upsert(42, [1.0])
            s.checkpoint()
            with self.assertRaises(quiver.IOFailure):
                quiver.Store.open_dir(self.dir)  # locked while open
        with quiver.Store.open_dir(self.dir) as s:
            self.assertIn(42, s.get("d"))


if __name__ == "__main__":
    unittest.main()
