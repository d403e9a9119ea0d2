"""The toy-store-shaped VectorStore, and its save / load directory."""

import os
import shutil
import tempfile
import unittest

import quiver


class TestVectorStore(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="quiver-vs-")

    def tearDown(self):
        shutil.rmtree(self.dir, ignore_errors=True)

    def test_operations(self):
        vs = quiver.VectorStore()
        vs.ensure_collection("docs", 3)
        vs.ensure_collection("docs", 3)
        with self.assertRaises(quiver.ExistsError):
            vs.ensure_collection("docs", 4)
        ids = vs.index("docs", [[1, 0, 0], [0, 1, 0], [0.9, 0.1, 0]], [
            {"entity_id": "e-1", "text": "alpha"},
            {"entity_id": "e-2", "text": "beta"},
            {"entity_id": "e-1", "text": "alpha 2"}])
        self.assertEqual(len(set(ids)), 3)
        self.assertEqual(vs.total_points(), 3)
        hits = vs.search("docs", [1, 0, 0], 2)
        self.assertEqual(hits[0].payload["text"], "alpha")
        self.assertAlmostEqual(hits[0].score, 1.0, places=6)
        self.assertIn(hits[0].id, ids)
        hits = vs.search("docs", [1, 0, 0], 5, {"must": [
            {"key": "entity_id", "match": {"value": "e-2"}}]})
        self.assertEqual([h.payload["text"] for h in hits], ["beta"])
        with self.assertRaises(quiver.InvalidError):
            vs.search("docs", [1, 0, 0], 5, '{"must":')
        with self.assertRaises(quiver.DimError):
            vs.search("docs", [1, 0], 5)
        with self.assertRaises(quiver.DimError):
            vs.index("docs", [[1, 0]], [{}])
        with self.assertRaises(quiver.InvalidError):
            vs.index("docs", [[1, 0, 0]], [])
        self.assertEqual(vs.search("docs", [1, 0, 0], 0), [])
        self.assertEqual(len(vs.search("docs", [1, 0, 0], 2**40)), 3)
        self.assertEqual(vs.delete_by_entity("docs", "e-1"), 2)
        self.assertEqual(vs.total_points(), 1)
        self.assertEqual(vs.collection_names(), ["docs"])

    def test_save_and_load(self):
        vs = quiver.VectorStore()
        vs.ensure_collection("a", 2)
        vs.ensure_collection("b b", 1)
        vs.upsert("a", [2**64 - 1], [[0, 1]],
                  [{"n": 2**64 - 1, "x": 0.1}])
        vs.save(self.dir)
        vs.index("b b", [[1.0]], [{"entity_id": "z"}])
        vs.save(self.dir)
        snaps = [f for f in os.listdir(self.dir) if f.endswith(".qvs")]
        self.assertEqual(len(snaps), 2, snaps)  # the old generation is gone
        back = quiver.VectorStore.load(self.dir)
        self.assertEqual(back.collection_names(), ["a", "b b"])
        self.assertEqual(back.total_points(), 2)
        hit = back.search("a", [0, 1], 1)[0]
        self.assertEqual(hit.id, "18446744073709551615")
        self.assertEqual(hit.payload, {"n": 2**64 - 1, "x": 0.1})
        back.delete_by_entity("b b", "z")
        back.save(self.dir)
        self.assertEqual(quiver.VectorStore.load(self.dir).total_points(), 1)
        with self.assertRaises(quiver.IOFailure):
            quiver.VectorStore.load(os.path.join(self.dir, "absent"))
        with open(os.path.join(self.dir, "MANIFEST"), "w") as f:
            f.write("something else\n")
        with self.assertRaises(quiver.FormatError):
            quiver.VectorStore.load(self.dir)


if __name__ == "__main__":
    unittest.main()
