"""Parse every folk tune shipped in music21's corpus once, through melody.symbolic, into one cache file.

Output: cache/corpus.npz (concatenated note arrays + per-tune offsets) and cache/corpus.json (metadata,
parse failures). Two worker processes at most.
"""
from __future__ import annotations

import json
import os
import sys
import time
from multiprocessing import Pool

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import music21  # noqa: E402

from melody.errors import MelodyError  # noqa: E402
from melody.symbolic import load_score  # noqa: E402

CORPUS = os.path.join(os.path.dirname(music21.__file__), "corpus")
COLLECTIONS = {"essen": "essenFolksong", "oneills": "oneills1850", "ryans": "ryansMammoth", "airds": "airdsAirs"}
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "cache")
FIELDS = ("pitch", "onset", "duration", "start", "end", "bar", "confidence", "metric")


def split_tunes(text: str) -> list[str]:
    chunks, cur = [], None
    header = []
    for line in text.splitlines():
        if line.startswith("X:"):
            if cur:
                chunks.append("\n".join(cur))
            cur = [line]
        elif cur is not None:
            cur.append(line)
        else:
            header.append(line)
    if cur:
        chunks.append("\n".join(cur))
    return chunks


def header(tune: str, key: str) -> list[str]:
    return [l[2:].strip() for l in tune.splitlines() if l.startswith(key + ":")]


def jobs() -> list[tuple[str, str, int, str]]:
    out = []
    for coll, folder in COLLECTIONS.items():
        for root, _, files in os.walk(os.path.join(CORPUS, folder)):
            for f in sorted(files):
                if not f.endswith(".abc"):
                    continue
                path = os.path.join(root, f)
                text = open(path, encoding="latin-1").read()
                for k, tune in enumerate(split_tunes(text)):
                    out.append((coll, os.path.relpath(path, CORPUS), k, tune))
    return out


def work(job):
    coll, path, k, tune = job
    meta = {"collection": coll, "file": path, "index": k, "titles": header(tune, "T"),
            "meter": (header(tune, "M") or [""])[0], "key": (header(tune, "K") or [""])[0],
            "rhythm": (header(tune, "R") or [""])[0]}
    try:
        m = load_score(tune.encode("latin-1"), format="abc")
    except MelodyError as exc:
        meta["error"] = f"{type(exc).__name__}: {exc}"
        return meta, None
    except Exception as exc:  # noqa: BLE001
        meta["error"] = f"unexpected {type(exc).__name__}: {exc}"
        return meta, None
    meta["source"] = m.source
    return meta, {f: getattr(m, f) for f in FIELDS}


def main() -> None:
    os.makedirs(OUT, exist_ok=True)
    todo = jobs()
    limit = int(sys.argv[1]) if len(sys.argv) > 1 else None
    if limit:
        todo = todo[::max(1, len(todo) // limit)][:limit]
    t0 = time.time()
    metas, arrays, failed = [], {f: [] for f in FIELDS}, []
    with Pool(2) as pool:
        for n, (meta, arr) in enumerate(pool.imap(work, todo, chunksize=16)):
            if arr is None:
                failed.append(meta)
                continue
            metas.append(meta)
            for f in FIELDS:
                arrays[f].append(arr[f])
            if n % 1000 == 0:
                print(n, len(todo), f"{time.time() - t0:.0f}s", flush=True)
    lengths = np.array([len(a) for a in arrays["pitch"]])
    np.savez(os.path.join(OUT, "corpus.npz"), offsets=np.concatenate([[0], np.cumsum(lengths)]),
             **{f: np.concatenate(arrays[f]) for f in FIELDS})
    json.dump({"tunes": metas, "failed": failed, "seconds": time.time() - t0}, open(os.path.join(OUT, "corpus.json"), "w"))
    print("parsed", len(metas), "failed", len(failed), f"{time.time() - t0:.0f}s")


if __name__ == "__main__":
    main()
