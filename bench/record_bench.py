"""CPU per file of group_record.record_new_files for group sizes, on a fresh database."""
import glob, os, sys, time, uuid, resource
from pathlib import Path
import psycopg
from alice.daemon.catalog.engine import Catalog
from alice.daemon.catalog import group_record
from alice.pipeline.importer import analyze_bytes

ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
files = sorted(glob.glob("/tmp/lead-bench/set-v1-300-12-3/png/*/*.png"))[:240]
recs = []
for f in files:
    p = Path(f); d = p.read_bytes(); st = p.stat()
    r = analyze_bytes(d, p, st.st_size, st.st_mtime, p.parent.name, None, pixels=False, via=f)
    recs.append(group_record.NewFile(r, f"/tmp/x/{p.parent.name}/{p.name}", f, st.st_size, st.st_mtime_ns))
for size in [int(a) for a in sys.argv[1:]] or [1, 8, 32]:
    name = "recb_" + uuid.uuid4().hex[:6]
    with psycopg.connect(ADMIN, autocommit=True) as c:
        c.execute(f'CREATE DATABASE "{name}"')
    cat = Catalog.open(ADMIN.rsplit("/", 1)[0] + "/" + name, Path("/tmp"))
    try:
        c0 = time.process_time(); w0 = time.perf_counter()
        for i in range(0, len(recs), size):
            with cat.session() as s:
                group_record.record_new_files(s, recs[i:i + size])
        print(f"group {size:3d}: cpu {1000*(time.process_time()-c0)/len(recs):.2f} ms/file, wall {1000*(time.perf_counter()-w0)/len(recs):.2f} ms/file")
    finally:
        cat.close()
        with psycopg.connect(ADMIN, autocommit=True) as c:
            c.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
