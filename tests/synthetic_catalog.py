"""Synthetic assets loaded by COPY, for the search EXPLAIN test and bench/search_bench.py.

Prompts draw from a realistic vocabulary with a skewed (Zipf-like) word
frequency, so some words match a large share of assets and others few, as in
a real catalog. The data is deterministic for a given seed.

Assets' indexes are dropped during the load and rebuilt after it (as a restore
would), which is many times faster than maintaining them row by row.
"""
from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import psycopg

SUBJECTS = ("portrait woman man girl boy cat dog fox wolf dragon robot astronaut samurai knight witch wizard "
            "city street forest mountain ocean castle temple spaceship car motorcycle flower garden lighthouse "
            "desert island village skyline owl horse tiger lion bird butterfly warrior princess queen king monk "
            "cyborg android mermaid ghost skeleton vampire elf dwarf orc goblin bridge tower library cafe").split()
STYLES = ("cyberpunk steampunk watercolor oil-painting anime photorealistic cinematic noir vaporwave synthwave "
          "baroque minimalist surreal fantasy sci-fi gothic pastel ukiyo-e impressionist art-deco pixel-art "
          "isometric lowpoly clay claymation sketch charcoal ink comic manga retro vintage futuristic").split()
DETAILS = ("neon lights rain fog golden hour sunset sunrise night moonlight dramatic lighting volumetric soft "
           "bokeh depth field highly detailed intricate sharp focus 8k octane render unreal engine trending "
           "artstation masterpiece best quality ultra realistic studio lighting rim light backlit reflection "
           "glowing eyes red blue green purple orange gold silver black white smoke fire snow ice crystal "
           "wet stone wooden metal glass leather silk flowing hair freckles smile serious close-up wide shot "
           "full body profile view from above low angle symmetrical centered composition").split()
NEGATIVE = "blurry lowres bad anatomy extra fingers watermark text jpeg artifacts deformed ugly cropped".split()
TOOLS = [("midjourney", 30), ("a1111", 18), ("comfyui", 16), ("dalle", 8), ("flux", 8), ("firefly", 4),
         ("leonardo", 4), ("novelai", 3), ("invokeai", 3), ("fooocus", 2), (None, 4)]
MODELS = {"midjourney": ["v6", "v6.1", "niji6"], "dalle": ["dall-e-3"], "flux": ["flux1-dev", "flux1-schnell"],
          "firefly": ["firefly-image-3"], "leonardo": ["phoenix"], "novelai": ["nai-diffusion-3"]}
SD_MODELS = ["sd_xl_base_1.0", "juggernautXL_v9", "dreamshaper_8", "realisticVision_v51", "ponyDiffusionV6XL",
             "sd15", "animagineXL31", "epicrealism"]
SIZES = [(1024, 1024, 30), (832, 1216, 12), (1216, 832, 12), (512, 512, 10), (768, 1024, 8), (1024, 768, 8),
         (1920, 1080, 6), (1080, 1920, 4), (2048, 2048, 5), (4032, 3024, 5)]
TAG_NAMES = [f"{w}" for w in ("favorite keeper wip reference client print wallpaper avatar concept final draft "
                              "reject series-a series-b series-c moodboard").split()] + \
            [f"topic-{i:03d}" for i in range(184)]
PROJECTS = [f"project-{i:02d}" for i in range(30)]
START = datetime(2023, 1, 1, tzinfo=UTC)
SPAN_S = 3 * 365 * 86400


def _zipf(rng: random.Random, items: list[str] | tuple[str, ...], s: float = 1.1) -> str:
    # Inverse-CDF approximation of a Zipf draw: low indexes far more often than high ones.
    n = len(items)
    return items[min(n - 1, int(n * rng.random() ** (1 + s)))]


def _prompt(rng: random.Random) -> str:
    words = [_zipf(rng, STYLES), _zipf(rng, SUBJECTS)]
    words += [_zipf(rng, DETAILS) for _ in range(rng.randint(4, 16))]
    if rng.random() < 0.4:
        words.append(_zipf(rng, SUBJECTS))
    rng.shuffle(words)
    return ", ".join(words)


def load_synthetic(conninfo: str, n: int, seed: int = 7, batch: int = 100_000) -> dict[str, int]:
    """Add n synthetic assets (with generations, tags, locations) to a migrated catalog at conninfo."""
    rng = random.Random(seed)
    tool_names = [t for t, _ in TOOLS]
    tool_weights = [w for _, w in TOOLS]
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute("INSERT INTO projects (name) SELECT unnest(%s::text[]) ON CONFLICT DO NOTHING", (PROJECTS,))
        conn.execute("INSERT INTO tags (name) SELECT unnest(%s::text[]) ON CONFLICT DO NOTHING", (TAG_NAMES,))
        project_ids = [r[0] for r in conn.execute("SELECT id FROM projects WHERE name = ANY(%s) ORDER BY name",
                                                  (PROJECTS,))]
        tag_ids = [r[0] for r in conn.execute("SELECT id FROM tags WHERE name = ANY(%s) ORDER BY id", (TAG_NAMES,))]
        first = conn.execute("SELECT coalesce(max(id), 0) + 1 FROM assets").fetchone()[0]
        indexes = conn.execute("""SELECT indexname, indexdef FROM pg_indexes i WHERE tablename = 'assets'
                                  AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conname = i.indexname)""").fetchall()
        for name, _ in indexes:
            conn.execute(f'DROP INDEX "{name}"')
        conn.execute("""CREATE TEMP TABLE staging (id bigint, content_id text, size bigint, format text, media text,
                        tool text, ai boolean, project_id bigint, width int, height int, created_at timestamptz,
                        stars smallint, user_stars smallint, phash bigint, prompt text, negative text,
                        model text, seed numeric(20,0), steps int, cfg float8, tags text, file_name text)""")
        try:
            for lo in range(0, n, batch):
                links = []
                with conn.cursor().copy("COPY staging FROM STDIN") as copy:
                    for i in range(first + lo, first + min(n, lo + batch)):
                        tool = rng.choices(tool_names, tool_weights)[0]
                        w, h = rng.choices([(a, b) for a, b, _ in SIZES], [c for *_, c in SIZES])[0]
                        when = START + timedelta(seconds=rng.randrange(SPAN_S))
                        stars = None if rng.random() < 0.4 else rng.choices([1, 2, 3, 4, 5], [5, 15, 40, 30, 10])[0]
                        user = rng.randint(1, 5) if rng.random() < 0.05 else None
                        tags = {rng.choice(tag_ids[:16]) if rng.random() < 0.5 else tag_ids[int(len(tag_ids) *
                                rng.random() ** 2)] for _ in range(rng.choice((0, 1, 1, 2, 2, 3, 4)))}
                        names = [TAG_NAMES[tag_ids.index(t)] for t in tags]
                        links.extend((i, t) for t in tags)
                        model = (rng.choice(MODELS[tool]) if tool in MODELS else
                                 rng.choice(SD_MODELS) if tool else None)
                        ai = tool is not None
                        copy.write_row((
                            i, f"b3:{rng.getrandbits(128):032x}", rng.randrange(200_000, 8_000_000),
                            "png" if ai else "jpeg", "image" if rng.random() < 0.95 else "video", tool, ai,
                            rng.choice(project_ids), w, h, when, stars, user, rng.getrandbits(64) - (1 << 63),
                            _prompt(rng) if ai else None,
                            " ".join(rng.sample(NEGATIVE, 4)) if tool in ("a1111", "comfyui") else None,
                            model, rng.getrandbits(32) if ai else None, rng.randint(20, 50) if ai else None,
                            round(rng.uniform(3, 9), 1) if ai else None, " ".join(names),
                            f"{(tool or 'IMG')}_{i:08d}.png"))
                conn.execute("""
                    INSERT INTO assets (id, content_id, file_hash, size, format, media, tool, ai, project_id, width,
                        height, created_at, stars, user_stars, phash, phash_bands, search)
                    SELECT id, content_id, content_id, size, format, media, tool, ai, project_id, width, height,
                        created_at, stars, user_stars, phash,
                        ARRAY[(0 << 16) | (phash & 65535), (1 << 16) | ((phash >> 16) & 65535),
                              (2 << 16) | ((phash >> 32) & 65535), (3 << 16) | ((phash >> 48) & 65535)]::int[],
                        setweight(to_tsvector('english', coalesce(prompt, '')), 'A')
                        || setweight(to_tsvector('english', tags), 'B')
                        || setweight(to_tsvector('simple', regexp_replace(file_name, '[_.-]+', ' ', 'g')), 'C')
                        || setweight(to_tsvector('english', coalesce(negative, '')), 'D')
                    FROM staging""")
                conn.execute("""INSERT INTO generations (asset_id, prompt, negative_prompt, seed, steps, cfg, model,
                                    width, height)
                                SELECT id, prompt, negative, seed, steps, cfg, model, width, height FROM staging
                                WHERE ai""")
                # Each asset's one file record, as the filing code writes it (same hash as its location).
                conn.execute("""INSERT INTO file_records (asset_id, file_hash, tool, ai, prompt, negative_prompt,
                                    seed, steps, cfg, model, width, height)
                                SELECT id, content_id, tool, ai, prompt, negative, seed, steps, cfg, model, width,
                                       height FROM staging WHERE ai""")
                conn.execute("""INSERT INTO locations (asset_id, path, file_hash, role)
                                SELECT id, '/organized/' || to_char(created_at, 'YYYY-MM-DD') || '/' || file_name,
                                       content_id, 'organized' FROM staging""")
                with conn.cursor().copy("COPY asset_tags (asset_id, tag_id, source) FROM STDIN") as copy:
                    for a, t in links:
                        copy.write_row((a, t, "user"))
                conn.execute("TRUNCATE staging")
        finally:
            for _, ddl in indexes:
                conn.execute(ddl)
        conn.execute("SELECT setval(pg_get_serial_sequence('assets', 'id'), (SELECT max(id) FROM assets))")
        conn.execute("VACUUM ANALYZE assets")
        for table in ("generations", "file_records", "asset_tags", "locations", "tags", "projects"):
            conn.execute(f"ANALYZE {table}")
        return {"assets": n, "first_id": first}
