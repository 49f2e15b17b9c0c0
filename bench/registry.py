"""Registry + gateway benchmarks on PostgreSQL: lookup, throughput, search, validate.

    python -m bench.registry [--subjects 1000000] [--scenario all|lookup|search|validate|throughput|layers]

Loads (or reuses) N organisations and individual businesses into the database
``credit_bench_registry``, starts the registry and the gateway as real processes, drives
them over HTTP on 127.0.0.1 and prints each scenario's figures, then a summary that is
also written to ``bench/results/registry-<timestamp>.json``. See ``bench/README.md``.

The load generator runs on the same machine as the services and PostgreSQL and shares
its cores with them; every figure includes that contention.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import json
import math
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
import httpx
import psycopg
from grpc_health.v1 import health_pb2, health_pb2_grpc

from bench.rawhttp import RawHttp
from credit.registry.v1 import registry_pb2 as pb
from credit.registry.v1 import registry_pb2_grpc as pb_grpc
from credit_registry import bootstrap as registry_bootstrap
from credit_registry.domain import codes
from credit_registry.settings import RegistrySettings

BENCH_DIR = Path(__file__).resolve().parent
RESULTS_DIR = BENCH_DIR / "results"
PG_SERVER = "postgres@127.0.0.1:5432"
REGISTRY_DB = "credit_bench_registry"
GATEWAY_DB = "credit_bench_gateway"
REDIS_URL = "redis://127.0.0.1:6379/14"
NO_RATE_LIMITS = {
    # The load generator stands for many callers (or anonymous callers) from one address:
    # the buckets are still taken, so their cost is measured, but never empty.
    "CREDIT_GATEWAY_RATE_LIMIT_PER_SECOND": "1000000",
    "CREDIT_GATEWAY_RATE_LIMIT_BURST": "1000000",
    "CREDIT_GATEWAY_ANONYMOUS_RATE_LIMIT_PER_SECOND": "1000000",
    "CREDIT_GATEWAY_ANONYMOUS_RATE_LIMIT_BURST": "1000000",
}
# Bump when the generated data changes shape, so an old load is not reused.
DATA_VERSION = 1
SEED = 20261127
SCENARIOS = ("lookup", "throughput", "search", "validate", "layers")

# The targets.
TARGET_LOOKUP_P50_MS = 3.0
TARGET_LOOKUP_P99_MS = 15.0
TARGET_THROUGHPUT_RATIO = 0.40
TARGET_SEARCH_P99_MS = 50.0
TARGET_VALIDATE_MS = 100.0


def log(message: str = "") -> None:
    print(message, flush=True)


# ---------------------------------------------------------------------------------------
# Synthetic subjects: valid unified codes, realistic Chinese names
# ---------------------------------------------------------------------------------------

# Registration divisions (GB/T 2260) and the place name a company there puts first.
DIVISIONS: tuple[tuple[str, str, str], ...] = (
    ("110105", "北京", "朝阳区"),
    ("110108", "北京", "海淀区"),
    ("110102", "北京", "西城区"),
    ("310115", "上海", "浦东新区"),
    ("310104", "上海", "徐汇区"),
    ("310112", "上海", "闵行区"),
    ("120101", "天津", "和平区"),
    ("500103", "重庆", "渝中区"),
    ("440300", "深圳", "福田区"),
    ("440305", "深圳", "南山区"),
    ("440307", "深圳", "龙岗区"),
    ("440106", "广州", "天河区"),
    ("440104", "广州", "越秀区"),
    ("441900", "东莞", "南城街道"),
    ("442000", "中山", "石岐街道"),
    ("440604", "佛山", "禅城区"),
    ("330106", "杭州", "西湖区"),
    ("330108", "杭州", "滨江区"),
    ("330203", "宁波", "海曙区"),
    ("330782", "义乌", "稠城街道"),
    ("320102", "南京", "玄武区"),
    ("320506", "苏州", "吴中区"),
    ("320211", "无锡", "滨湖区"),
    ("370102", "济南", "历下区"),
    ("370202", "青岛", "市南区"),
    ("350102", "福州", "鼓楼区"),
    ("350203", "厦门", "思明区"),
    ("420106", "武汉", "武昌区"),
    ("430104", "长沙", "岳麓区"),
    ("410105", "郑州", "金水区"),
    ("510107", "成都", "武侯区"),
    ("510104", "成都", "锦江区"),
    ("610113", "西安", "雁塔区"),
    ("340104", "合肥", "蜀山区"),
    ("360102", "南昌", "东湖区"),
    ("210102", "沈阳", "和平区"),
    ("220102", "长春", "南关区"),
    ("230102", "哈尔滨", "道里区"),
    ("130102", "石家庄", "长安区"),
    ("140105", "太原", "小店区"),
    ("150102", "呼和浩特", "新城区"),
    ("450103", "南宁", "青秀区"),
    ("530102", "昆明", "五华区"),
    ("520102", "贵阳", "南明区"),
    ("620102", "兰州", "城关区"),
    ("460106", "海口", "龙华区"),
    ("650102", "乌鲁木齐", "天山区"),
    ("640104", "银川", "兴庆区"),
)
BRAND_CHARS = (
    "华信达鑫源恒泰宏盛瑞祥嘉德天宇博创新联通金海明星光辉腾飞龙凯正中润和安康丰茂昌隆兴旺"
    "东方远航晟晨阳春秋美佳优誉卓越锦绣云峰山河江湖汇聚力诚品智慧铭睿弘毅鼎宸璟煜轩逸浩然"
    "启迪宁静致蓝绿青紫红万百千众合利益福禄喜乐富贵长城永久立志同仁和谐精工匠心领先锐捷"
    "森林松柏竹梅兰菊桥港湾岛舟帆鹏鹰凤麟虎豹骏驰普惠民生泉溪川洋洲亚欧美澳"
)
INDUSTRIES = (
    "科技",
    "信息技术",
    "网络科技",
    "电子商务",
    "贸易",
    "进出口贸易",
    "商贸",
    "实业",
    "建筑工程",
    "建设工程",
    "装饰工程",
    "房地产开发",
    "物业管理",
    "餐饮管理",
    "酒店管理",
    "物流",
    "供应链管理",
    "国际货运代理",
    "文化传媒",
    "广告",
    "影视文化",
    "教育咨询",
    "企业管理咨询",
    "投资管理",
    "资产管理",
    "融资租赁",
    "医疗器械",
    "医药",
    "生物科技",
    "健康管理",
    "环保科技",
    "新能源",
    "光电科技",
    "电子",
    "智能装备",
    "机械设备",
    "汽车服务",
    "汽车零部件",
    "五金制品",
    "塑胶制品",
    "包装材料",
    "服装",
    "纺织",
    "食品",
    "农业发展",
    "农业科技",
    "水产",
    "茶业",
    "家具",
    "建材",
    "钢铁",
    "化工",
    "人力资源",
    "劳务派遣",
    "旅游发展",
    "体育发展",
    "软件",
    "数据科技",
    "人工智能",
    "半导体",
    "通信技术",
    "安防科技",
)
COMPANY_FORMS = (
    ("有限公司", 52),
    ("有限责任公司", 18),
    ("股份有限公司", 8),
    ("集团有限公司", 4),
    ("有限公司分公司", 5),
    ("合伙企业（有限合伙）", 3),
    ("厂", 5),
    ("经营部", 3),
    ("工作室", 2),
)
SHOPS = (
    "便利店",
    "超市",
    "餐馆",
    "面馆",
    "小吃店",
    "五金店",
    "理发店",
    "美发店",
    "服装店",
    "水果店",
    "烟酒商行",
    "建材经营部",
    "汽车修理部",
    "手机维修店",
    "药店",
    "文具店",
    "茶行",
    "粮油店",
    "副食店",
    "快餐店",
    "烧烤店",
    "花店",
    "眼镜店",
    "摄影工作室",
    "家电维修部",
    "电脑经营部",
    "鞋店",
    "母婴用品店",
    "宠物店",
    "洗车店",
)
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘蒋蔡余杜叶程"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰萍红建国志文海燕辉斌鹏宇浩"
# (authority, category, kind, share in per mille, how the name is made)
CATEGORIES: tuple[tuple[str, str, str, int, str], ...] = (
    ("9", "1", "organization", 750, "company"),
    ("9", "2", "individual_business", 170, "shop"),
    ("9", "3", "organization", 20, "coop"),
    ("5", "1", "organization", 15, "association"),
    ("5", "2", "organization", 15, "private_school"),
    ("1", "2", "organization", 10, "institution"),
    ("3", "1", "organization", 10, "law_firm"),
    ("8", "1", "organization", 10, "union"),
)
STATUSES = (("active", 950), ("deregistered", 35), ("revoked", 15))

_USCC_INDEX = {c: i for i, c in enumerate(codes.USCC_ALPHABET)}
_ORG_INDEX = {c: i for i, c in enumerate(codes.ORG_CODE_ALPHABET)}
_USCC_W = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
_ORG_W = (3, 7, 9, 10, 5, 8, 4, 2)


def _org_code(body8: str) -> str:
    """Same as codes.make_org_code, without its per-character checks (cross-checked)."""
    c = 11 - sum(_ORG_INDEX[ch] * w for ch, w in zip(body8, _ORG_W, strict=True)) % 11
    return body8 + {10: "X", 11: "0"}.get(c, str(c))


def _uscc(prefix8: str, prefix_sum: int, org9: str) -> str:
    """Same as codes.make_uscc for a checked prefix (cross-checked on a sample)."""
    total = prefix_sum + sum(_USCC_INDEX[ch] * w for ch, w in zip(org9, _USCC_W[8:], strict=True))
    return prefix8 + org9 + codes.USCC_ALPHABET[(31 - total % 31) % 31]


def _base31(value: int, width: int) -> str:
    digits = []
    for _ in range(width):
        value, rem = divmod(value, 31)
        digits.append(codes.USCC_ALPHABET[rem])
    return "".join(reversed(digits))


@dataclass
class Row:
    id: str
    code: str
    kind: str
    name: str
    status: str
    authority: str
    category: str
    division: str
    org_code: str
    legal_rep: str
    registered_on: str


class Generator:
    """Deterministic subjects: row i is the same on every run with the same seed."""

    def __init__(self, seed: int = SEED) -> None:
        self.rng = random.Random(seed)
        self.prefix_sums = {
            (a, c, d): sum(
                _USCC_INDEX[ch] * w for ch, w in zip(a + c + d, _USCC_W[:8], strict=True)
            )
            for a, c, _k, _s, _n in CATEGORIES
            for d, _city, _district in DIVISIONS
        }
        self.categories = [c for c in CATEGORIES for _ in range(c[3])]
        self.statuses = [s for s, n in STATUSES for _ in range(n)]
        self.forms = [f for f, n in COMPANY_FORMS for _ in range(n)]
        self.allocated = 0
        self.numeric = 0

    def _brand(self) -> str:
        r = self.rng
        return "".join(r.choice(BRAND_CHARS) for _ in range(3 if r.random() < 0.3 else 2))

    def _person(self) -> str:
        r = self.rng
        return r.choice(SURNAMES) + "".join(
            r.choice(GIVEN) for _ in range(2 if r.random() < 0.6 else 1)
        )

    def _name(self, style: str, city: str, district: str) -> str:
        r = self.rng
        place = city + "市"
        if style == "company":
            form = r.choice(self.forms)
            if form == "有限公司分公司":
                return (
                    f"{place if r.random() < 0.5 else ''}{self._brand()}{r.choice(INDUSTRIES)}"
                    f"有限公司{r.choice(DIVISIONS)[1]}分公司"
                )
            head = place if r.random() < 0.55 else (city if r.random() < 0.3 else "")
            return f"{head}{self._brand()}{r.choice(INDUSTRIES)}{form}"
        if style == "shop":
            owner = r.choice(SURNAMES) + "记" if r.random() < 0.3 else self._brand()
            return f"{district if r.random() < 0.6 else place + district}{owner}{r.choice(SHOPS)}"
        if style == "coop":
            crop = r.choice(
                ("蔬菜", "水果", "茶叶", "水稻", "生猪", "家禽", "水产", "花卉", "中药材")
            )
            kind = r.choice(("种植", "养殖")) if crop not in ("生猪", "家禽", "水产") else "养殖"
            return f"{district}{self._brand()}{crop}{kind}专业合作社"
        if style == "association":
            return f"{place}{r.choice(INDUSTRIES)}{r.choice(('协会', '商会', '学会', '联合会'))}"
        if style == "private_school":
            what = r.choice(("培训学校", "职业培训学校", "幼儿园", "养老院", "康复中心", "研究院"))
            return f"{place}{district}{self._brand()}{what}"
        if style == "institution":
            what = r.choice(
                ("人民医院", "中医院", "第一中学", "实验小学", "疾病预防控制中心", "图书馆")
            )
            return (
                f"{place}{district}{what}" if r.random() < 0.5 else f"{place}{self._brand()}{what}"
            )
        if style == "law_firm":
            return f"{r.choice((city, place + ''))}{self._brand()}律师事务所"
        return f"{place}{self._brand()}{r.choice(INDUSTRIES)}有限公司工会委员会"

    def row(self) -> Row:
        r = self.rng
        authority, category, kind, _share, style = r.choice(self.categories)
        division, city, district = r.choice(DIVISIONS)
        if r.random() < 0.6:
            # Allocated by market regulation: "MA" + a base-31 counter (stride: no visible order).
            body = "MA" + _base31((7_000_001 + self.allocated * 7_919) % 31**6, 6)
            self.allocated += 1
        else:
            # An older, all-digit organisation code converted to the unified code.
            body = f"{(12_345_678 + self.numeric * 104_729) % 10**8:08d}"
            self.numeric += 1
        org9 = _org_code(body)
        code = _uscc(
            authority + category + division, self.prefix_sums[authority, category, division], org9
        )
        registered = dt.date(1995, 1, 1) + dt.timedelta(days=r.randrange(11_000))
        return Row(
            id=str(uuid.UUID(int=r.getrandbits(128), version=4)),
            code=code,
            kind=kind,
            name=self._name(style, city, district),
            status=r.choice(self.statuses),
            authority=authority,
            category=category,
            division=division,
            org_code=org9,
            legal_rep=self._person(),
            registered_on=registered.isoformat(),
        )


def _check_against_make_uscc(row: Row) -> None:
    expected = codes.make_uscc(
        row.authority, row.category, row.division, codes.make_org_code(row.org_code[:8])
    )
    if expected != row.code:
        raise AssertionError(f"generated {row.code}, make_uscc says {expected}")


# ---------------------------------------------------------------------------------------
# The database: create, migrate, bulk-load with COPY, or reuse
# ---------------------------------------------------------------------------------------


def pg_url(database: str, driver: str = "postgresql") -> str:
    return f"{driver}://{PG_SERVER}/{database}"


def recreate_database(name: str) -> None:
    with psycopg.connect(pg_url("postgres"), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def loaded_count(subjects: int) -> int | None:
    """The count of a previous load of the same generator, or None when there is none."""
    try:
        with psycopg.connect(pg_url(REGISTRY_DB), connect_timeout=5) as conn:
            row = conn.execute(
                "SELECT subjects FROM bench_dataset WHERE version = %s AND seed = %s",
                (DATA_VERSION, SEED),
            ).fetchone()
            if row is None:
                return None
            actual = conn.execute("SELECT count(*) FROM subjects").fetchone()
    except psycopg.Error:
        return None
    assert actual is not None
    return int(row[0]) if int(row[0]) == int(actual[0]) == subjects else None


SUBJECT_COLUMNS = (
    "id, code_key, kind, name, status, registration_authority, org_category, division_code, "
    "org_code, legal_representative, registered_on, created_at, updated_at"
)


def load(subjects: int) -> float:
    """Recreates the registry database, migrates it and bulk-loads the subjects."""
    started = time.perf_counter()
    recreate_database(REGISTRY_DB)
    registry_bootstrap.migrate(
        RegistrySettings(database_url=pg_url(REGISTRY_DB, "postgresql+psycopg"))
    )
    log(f"  migrated in {time.perf_counter() - started:.1f}s")
    with psycopg.connect(pg_url(REGISTRY_DB), autocommit=True) as conn:
        # Secondary indexes are dropped for the load and rebuilt after it (much faster).
        indexes = conn.execute(
            """
            SELECT i.relname, pg_get_indexdef(x.indexrelid)
            FROM pg_index x
            JOIN pg_class i ON i.oid = x.indexrelid
            JOIN pg_class t ON t.oid = x.indrelid
            WHERE t.relname IN ('subjects', 'legacy_codes')
              AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = x.indexrelid)
            """
        ).fetchall()
        for name, _definition in indexes:
            conn.execute(f'DROP INDEX "{name}"')
        conn.execute("SET session_replication_role = replica")  # no FK triggers while loading
        conn.execute("SET synchronous_commit = off")
        generator = Generator()
        legacy_chunks: list[bytes] = []
        now = "2025-01-01 00:00:00+00"
        chunk = 50_000
        t0 = time.perf_counter()
        with conn.transaction(), conn.cursor() as cur:
            with cur.copy(f"COPY subjects ({SUBJECT_COLUMNS}) FROM STDIN") as copy:
                for start in range(0, subjects, chunk):
                    lines = []
                    legacy = []
                    for i in range(start, min(start + chunk, subjects)):
                        row = generator.row()
                        if i % 997 == 0:
                            _check_against_make_uscc(row)
                        lines.append(
                            f"{row.id}\t{row.code}\t{row.kind}\t{row.name}\t{row.status}\t"
                            f"{row.authority}\t{row.category}\t{row.division}\t{row.org_code}\t"
                            f"{row.legal_rep}\t{row.registered_on}\t{now}\t{now}\n"
                        )
                        legacy.append(f"org_code\t{row.org_code}\t{row.id}\n")
                    copy.write("".join(lines).encode())
                    legacy_chunks.append("".join(legacy).encode())
            with cur.copy("COPY legacy_codes (type, value, subject_id) FROM STDIN") as copy:
                for data in legacy_chunks:
                    copy.write(data)
        log(f"  copied {subjects:,} subjects + legacy codes in {time.perf_counter() - t0:.1f}s")
        conn.execute("RESET session_replication_role")
    t0 = time.perf_counter()
    # Two connections build the indexes side by side: the trigram GIN index on one.
    gin = [d for n, d in indexes if "gin" in d.lower()]
    rest = [d for n, d in indexes if "gin" not in d.lower()]

    def build(statements: list[str]) -> None:
        with psycopg.connect(pg_url(REGISTRY_DB), autocommit=True) as c:
            c.execute("SET maintenance_work_mem = '1GB'")
            for statement in statements:
                c.execute(statement)  # type: ignore[arg-type]

    with ThreadPoolExecutor(2) as pool:
        list(pool.map(build, [gin, rest]))
    log(f"  rebuilt {len(indexes)} indexes in {time.perf_counter() - t0:.1f}s")
    t0 = time.perf_counter()
    with psycopg.connect(pg_url(REGISTRY_DB), autocommit=True) as conn:
        conn.execute("VACUUM (ANALYZE) subjects")
        conn.execute("VACUUM (ANALYZE) legacy_codes")
        conn.execute(
            "CREATE TABLE bench_dataset (subjects bigint NOT NULL, version int NOT NULL, "
            "seed bigint NOT NULL, loaded_at timestamptz NOT NULL DEFAULT now(), "
            "load_seconds double precision NOT NULL)"
        )
        elapsed = time.perf_counter() - started
        conn.execute(
            "INSERT INTO bench_dataset (subjects, version, seed, load_seconds) VALUES (%s, %s, %s, %s)",
            (subjects, DATA_VERSION, SEED, elapsed),
        )
    log(f"  vacuum + analyze in {time.perf_counter() - t0:.1f}s")
    return elapsed


@dataclass
class Sample:
    codes: list[str]
    org_codes: list[str]
    names: list[str]
    look_like_persons: int = 0


def sample(subjects: int, size: int = 20_000) -> Sample:
    """Random loaded subjects to ask for. All-digit unified codes that also pass the
    citizen-identity check are left out, as they were when the registry's lookup took them
    for identity numbers and answered 404 (a finding of this benchmark, fixed since: the
    lookup tries both keys, and validation reports them registered); kept out so that the
    figures stay comparable across sessions."""
    percent = min(100.0, 100.0 * size * 1.2 / max(subjects, 1))
    with psycopg.connect(pg_url(REGISTRY_DB)) as conn:
        rows = conn.execute(
            f"SELECT code_key, org_code, name FROM subjects TABLESAMPLE BERNOULLI ({percent:.4f}) "
            f"REPEATABLE ({SEED % 1000}) LIMIT {size}"
        ).fetchall()
    kept = [r for r in rows if not codes.validate_citizen_id(r[0]).valid]
    return Sample(
        [r[0] for r in kept],
        [r[1] for r in kept],
        [r[2] for r in kept],
        look_like_persons=len(rows) - len(kept),
    )


# ---------------------------------------------------------------------------------------
# The services as real processes
# ---------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Service:
    name: str
    process: subprocess.Popen[bytes]
    log_path: Path

    @property
    def pid(self) -> int:
        return self.process.pid

    def stop(self) -> int | None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.returncode


def _service_env(extra: dict[str, str], var_dir: Path) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("CREDIT_", "OTEL_")) and k != "REDIS_URL"
    }
    env.update({"OTEL_SDK_DISABLED": "true", "PYTHONUNBUFFERED": "1"})
    env.update(extra)
    env.setdefault("CREDIT_REGISTRY_VAR_DIR", str(var_dir))
    env.setdefault("CREDIT_GATEWAY_VAR_DIR", str(var_dir))
    return env


def start_service(name: str, module: str, env: dict[str, str], logs: Path) -> Service:
    log_path = logs / f"{name}.log"
    with log_path.open("ab") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", module],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    return Service(name, process, log_path)


def wait_for(service: Service, check: Callable[[], bool], timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if service.process.poll() is not None:
            tail = service.log_path.read_text(errors="replace")[-3000:]
            raise RuntimeError(f"{service.name} exited with {service.process.returncode}:\n{tail}")
        if check():
            return
        time.sleep(0.2)
    raise TimeoutError(f"{service.name} not healthy after {timeout:.0f}s; see {service.log_path}")


def grpc_healthy(address: str) -> bool:
    with grpc.insecure_channel(address) as channel:
        try:
            reply = health_pb2_grpc.HealthStub(channel).Check(
                health_pb2.HealthCheckRequest(), timeout=1
            )
        except grpc.RpcError:
            return False
    return bool(reply.status == health_pb2.HealthCheckResponse.SERVING)


def http_ready(base: str) -> bool:
    """The gateway answers and reaches the registry (other backends it may have are not
    needed here, so /readyz's overall status is not required)."""
    try:
        with urllib.request.urlopen(f"{base}/readyz", timeout=1) as reply:
            body = reply.read()
    except urllib.error.HTTPError as error:
        body = error.read()
    except OSError:
        return False
    try:
        services = json.loads(body).get("services", {})
    except (ValueError, AttributeError):
        return False
    return bool(services.get("registry") == "ready")


@dataclass
class Stack:
    registry: Service
    gateway: Service
    registry_address: str
    base_url: str
    admin_id: str
    admin_secret: str

    def stop(self) -> None:
        for service in (self.gateway, self.registry):
            code = service.stop()
            log(f"  {service.name} stopped (exit {code})")


def start_stack(logs: Path) -> Stack:
    registry_port, gateway_port = free_port(), free_port()
    registry_address = f"127.0.0.1:{registry_port}"
    admin_id, admin_secret = "bench-admin", uuid.uuid4().hex
    recreate_database(GATEWAY_DB)  # the admin's secret is set only when the client is new
    registry = start_service(
        "registry",
        "credit_registry",
        _service_env(
            {
                "CREDIT_REGISTRY_DATABASE_URL": pg_url(REGISTRY_DB, "postgresql+psycopg"),
                "CREDIT_REGISTRY_GRPC_PORT": str(registry_port),
                "CREDIT_REGISTRY_REDIS_URL": REDIS_URL,
            },
            logs,
        ),
        logs,
    )
    gateway: Service | None = None
    try:
        wait_for(registry, lambda: grpc_healthy(registry_address))
        gateway = start_service(
            "gateway",
            "credit_gateway",
            _service_env(
                {
                    "CREDIT_GATEWAY_DATABASE_URL": pg_url(GATEWAY_DB, "postgresql+psycopg"),
                    "CREDIT_GATEWAY_HTTP_PORT": str(gateway_port),
                    "CREDIT_GATEWAY_REGISTRY_ADDRESS": registry_address,
                    "CREDIT_GATEWAY_REDIS_URL": REDIS_URL,
                    **NO_RATE_LIMITS,
                    "CREDIT_ADMIN_CLIENT_ID": admin_id,
                    "CREDIT_ADMIN_CLIENT_SECRET": admin_secret,
                },
                logs,
            ),
            logs,
        )
        base = f"http://127.0.0.1:{gateway_port}"
        wait_for(gateway, lambda: http_ready(base))
    except BaseException:
        if gateway is not None:
            gateway.stop()
        registry.stop()
        raise
    return Stack(registry, gateway, registry_address, base, admin_id, admin_secret)


async def token(http: httpx.AsyncClient, client_id: str, secret: str) -> str:
    reply = await http.post(
        "/oauth/token",
        data={"grant_type": "client_credentials", "client_id": client_id, "client_secret": secret},
    )
    reply.raise_for_status()
    return str(reply.json()["access_token"])


async def shared_client(http: httpx.AsyncClient, stack: Stack) -> tuple[str, str]:
    """Creates a client with the credit:shared scope through the admin API."""
    admin = await token(http, stack.admin_id, stack.admin_secret)
    reply = await http.post(
        "/v1/admin/clients",
        json={"name": "benchmark", "department": "market_regulation", "scopes": ["credit:shared"]},
        headers={"Authorization": f"Bearer {admin}"},
    )
    reply.raise_for_status()
    created = reply.json()
    return str(created["client_id"]), str(created["client_secret"])


# ---------------------------------------------------------------------------------------
# Measuring: latencies, CPU
# ---------------------------------------------------------------------------------------


def percentile(sorted_values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile of already sorted values."""
    if not sorted_values:
        return math.nan
    rank = max(1, math.ceil(q / 100 * len(sorted_values)))
    return sorted_values[min(rank, len(sorted_values)) - 1]


def summary_ms(seconds: Sequence[float]) -> dict[str, float]:
    values = sorted(s * 1000 for s in seconds)
    if not values:
        return {}
    return {
        "p50": round(percentile(values, 50), 2),
        "p90": round(percentile(values, 90), 2),
        "p99": round(percentile(values, 99), 2),
        "max": round(values[-1], 2),
        "mean": round(sum(values) / len(values), 2),
    }


def fmt_latency(s: dict[str, float]) -> str:
    parts = [f"{k} {s[k]:.2f} ms" for k in ("p50", "p75", "p90", "p99", "max") if k in s]
    return ", ".join(parts) if parts else "no samples"


_TICKS = os.sysconf("SC_CLK_TCK")


def _proc_cpu(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / _TICKS


def _machine_cpu() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine so far."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = values[3] + values[4]
    total = sum(values[:8])
    return (total - idle) / _TICKS, total / _TICKS


class CpuMeter:
    """CPU used by the gateway, the registry, this load generator (and its wrk) and the rest."""

    def __init__(self, stack: Stack) -> None:
        self.pids = {"gateway": stack.gateway.pid, "registry": stack.registry.pid}

    def _snapshot(self) -> dict[str, float]:
        times = os.times()
        busy, total = _machine_cpu()
        snap = {name: _proc_cpu(pid) for name, pid in self.pids.items()}
        snap["load generator"] = (
            times.user + times.system + times.children_user + times.children_system
        )
        snap["machine busy"], snap["_total"] = busy, total
        snap["_wall"] = time.perf_counter()
        return snap

    @contextlib.contextmanager
    def measure(self, into: dict[str, Any]) -> Iterator[None]:
        before = self._snapshot()
        yield
        after = self._snapshot()
        wall = after["_wall"] - before["_wall"]
        used = {k: (after[k] - before[k]) / wall * 100 for k in after if not k.startswith("_")}
        known = used["gateway"] + used["registry"] + used["load generator"]
        used["postgres + other"] = max(0.0, used["machine busy"] - known)
        into["cpu_percent_of_one_core"] = {k: round(v) for k, v in used.items()}


def fmt_cpu(result: dict[str, Any]) -> str:
    cpu = result.get("cpu_percent_of_one_core")
    if not cpu:
        return ""
    order = ("gateway", "registry", "postgres + other", "load generator", "machine busy")
    return "cpu (% of one core): " + ", ".join(f"{k} {cpu[k]}" for k in order) + " (of 200)"


@dataclass
class Run:
    """Latencies of one load run, from the scheduled time and from the send time."""

    scheduled: list[float] = field(default_factory=list)
    sent: list[float] = field(default_factory=list)
    errors: Counter[str] = field(default_factory=Counter)
    elapsed: float = 0.0
    extra: list[tuple[float, str]] = field(default_factory=list)

    @property
    def count(self) -> int:
        return len(self.sent) + sum(self.errors.values())


Send = Callable[[int], Awaitable[str | None]]  # returns None when fine, else an error label


async def one_at_a_time(send: Send, times: int = 20) -> list[float]:
    """Seconds each of `times` requests takes, sent one after another (the latency of a
    request with nothing else in flight)."""
    took = []
    for i in range(times):
        t0 = time.perf_counter()
        await send(i)
        took.append(time.perf_counter() - t0)
    return took


async def open_loop(
    send: Send, rate: float, seconds: float, *, max_outstanding: int = 1000, drain: float = 10.0
) -> Run:
    """Sends on a fixed timetable (request i at t0 + i/rate), whatever the answers do.

    A request whose turn comes while `max_outstanding` are still unanswered is not sent and
    counts as an error (client_backlog); those still unanswered `drain` seconds after the
    last send are abandoned (abandoned). Both keep an overloaded service from stretching
    the run without end."""
    run = Run()
    total = max(1, int(rate * seconds))
    tasks: set[asyncio.Task[None]] = set()

    async def one(i: int, scheduled: float) -> None:
        sent = time.perf_counter()
        try:
            error = await send(i)
        except Exception as exc:
            error = type(exc).__name__
        done = time.perf_counter()
        if error is None:
            run.scheduled.append(done - scheduled)
            run.sent.append(done - sent)
            run.extra.append((done - sent, str(i)))
        else:
            run.errors[error] += 1

    t0 = time.perf_counter() + 0.01
    for i in range(total):
        scheduled = t0 + i / rate
        delay = scheduled - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        if len(tasks) >= max_outstanding:
            run.errors["client_backlog"] += 1
            continue
        task = asyncio.create_task(one(i, scheduled))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
    if tasks:
        _done, pending = await asyncio.wait(list(tasks), timeout=drain)
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        run.errors["abandoned"] += len(pending)
        if not run.errors["abandoned"]:
            del run.errors["abandoned"]
    run.elapsed = time.perf_counter() - t0
    return run


async def closed_loop(send: Send, connections: int, seconds: float) -> Run:
    """`connections` workers, each sending its next request as soon as the last returns."""
    run = Run()
    deadline = time.perf_counter() + seconds
    counter = iter(range(10**12))

    async def worker() -> None:
        while time.perf_counter() < deadline:
            i = next(counter)
            sent = time.perf_counter()
            try:
                error = await send(i)
            except Exception as exc:
                error = type(exc).__name__
            if error is None:
                latency = time.perf_counter() - sent
                run.sent.append(latency)
                run.scheduled.append(latency)
            else:
                run.errors[error] += 1

    t0 = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(connections)))
    run.elapsed = time.perf_counter() - t0
    return run


def run_result(run: Run, *, offered: float | None = None) -> dict[str, Any]:
    completed = len(run.sent)
    return {
        "count": run.count,
        "ok": completed,
        "errors": dict(run.errors),
        "offered_rate": offered,
        "achieved_rate": round(completed / run.elapsed, 1) if run.elapsed else 0.0,
        "latency_ms": summary_ms(run.scheduled),
        "latency_from_send_ms": summary_ms(run.sent),
    }


def print_run(title: str, result: dict[str, Any], *, both: bool = True) -> None:
    offered = result.get("offered_rate")
    rate = (
        f"offered {offered:g}/s, achieved {result['achieved_rate']:.1f}/s"
        if offered
        else (f"throughput {result['achieved_rate']:.1f}/s")
    )
    errors = sum(result["errors"].values())
    detail = f" {result['errors']}" if errors else ""
    log(f"  {title}: {result['count']} requests, {rate}, errors {errors}{detail}")
    if both:
        log(f"    latency from scheduled time: {fmt_latency(result['latency_ms'])}")
        log(f"    latency from send time:      {fmt_latency(result['latency_from_send_ms'])}")
    else:
        log(f"    latency: {fmt_latency(result['latency_ms'])}")
    if cpu := fmt_cpu(result):
        log(f"    {cpu}")


def status_error(reply: httpx.Response, expected: int = 200) -> str | None:
    return None if reply.status_code == expected else f"http_{reply.status_code}"


# ---------------------------------------------------------------------------------------
# wrk, for the closed-loop throughput when it is installed
# ---------------------------------------------------------------------------------------

_WRK_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


def _wrk_ms(text: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)([a-z]+)", text.strip()).groups()  # type: ignore[union-attr]
    return float(number) * _WRK_UNITS[unit]


def run_wrk(url: str, connections: int, seconds: float, script: Path | None) -> dict[str, Any]:
    command = ["wrk", "-t1", f"-c{connections}", f"-d{seconds:g}s", "--latency", "--timeout", "5s"]
    if script is not None:
        command += ["-s", str(script)]
    output = subprocess.run(
        [*command, url], capture_output=True, text=True, check=True, timeout=seconds + 60
    ).stdout
    head = re.search(r"(\d+) requests in ([\d.]+[a-z]+)", output)
    if head is None:
        raise RuntimeError(f"unexpected wrk output:\n{output}")
    requests, duration = int(head.group(1)), _wrk_ms(head.group(2)) / 1000
    latency = {
        f"p{q}": round(_wrk_ms(v), 2)
        for q, v in re.findall(r"^\s+(50|75|90|99)%\s+(\S+)$", output, re.MULTILINE)
    }
    if m := re.search(r"Latency\s+\S+\s+\S+\s+(\S+)", output):
        latency["max"] = round(_wrk_ms(m.group(1)), 2)
    errors: dict[str, int] = {}
    if m := re.search(r"Non-2xx or 3xx responses: (\d+)", output):
        errors["non_2xx"] = int(m.group(1))
    if m := re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output
    ):
        for label, value in zip(("connect", "read", "write", "timeout"), m.groups(), strict=True):
            if int(value):
                errors[f"socket_{label}"] = int(value)
    ok = max(0, requests - sum(errors.values()))
    return {
        "count": requests,
        "ok": ok,
        "errors": errors,
        "offered_rate": None,
        # Only successful answers count: wrk's own Requests/sec counts errors too.
        "achieved_rate": round(ok / duration, 1) if duration else 0.0,
        "latency_ms": latency,
        "latency_note": "wrk: latency of all answers, errors included; timeouts (5 s) excluded",
        "tool": "wrk",
        "wrk_output": output,
    }


def wrk_lookup_script(path: Path, code_file: Path) -> Path:
    path.write_text(
        f"""
local codes = {{}}
for line in io.lines("{code_file}") do codes[#codes + 1] = line end
math.randomseed({SEED % 100000})
request = function()
  return wrk.format("GET", "/v1/subjects/" .. codes[math.random(#codes)])
end
"""
    )
    return path


# ---------------------------------------------------------------------------------------
# Scenarios
# ---------------------------------------------------------------------------------------


@dataclass
class Context:
    args: argparse.Namespace
    stack: Stack
    http: httpx.AsyncClient
    sample: Sample
    cpu: CpuMeter
    workdir: Path
    client_id: str = ""
    client_secret: str = ""
    rng: random.Random = field(default_factory=lambda: random.Random(SEED))
    # The open-loop lookups and the closed loop without wrk: httpx would spend about a
    # millisecond of the two cores per request (at 500/s, most of one core).
    raw: RawHttp = field(init=False)

    def __post_init__(self) -> None:
        self.raw = RawHttp.for_base(self.stack.base_url)

    async def shared_headers(self) -> dict[str, str]:
        """A fresh token each scenario (tokens live five minutes)."""
        return {
            "Authorization": f"Bearer {await token(self.http, self.client_id, self.client_secret)}"
        }


def lookup_sender(ctx: Context, offset: int = 0, headers: dict[str, str] | None = None) -> Send:
    codes_ = ctx.sample.codes

    async def send(i: int) -> str | None:
        code = codes_[((i + offset) * 7_919 + 13) % len(codes_)]
        reply = await ctx.raw.get(f"/v1/subjects/{code}", headers=headers)
        return None if reply.status == 200 else f"http_{reply.status}"

    return send


async def scenario_lookup(ctx: Context) -> dict[str, Any]:
    rate, seconds = ctx.args.lookup_rate, ctx.args.lookup_seconds
    log(
        f"\n== lookup: GET /v1/subjects/{{code}}, anonymous (public level), open loop at {rate:g}/s for {seconds:g}s"
    )
    # Warm-up (connections, caches) on other codes than the measured ones.
    await open_loop(lookup_sender(ctx, offset=10_000), rate, 2.0)
    result: dict[str, Any] = {}
    with ctx.cpu.measure(result):
        run = await open_loop(lookup_sender(ctx), rate, seconds)
    result.update(run_result(run, offered=rate))
    print_run("lookup", result)
    log(
        f"    target p50 <= {TARGET_LOOKUP_P50_MS:g} ms and p99 <= {TARGET_LOOKUP_P99_MS:g} ms "
        f"(judged on latency from scheduled time): {verdict(lookup_met(result))}"
    )
    return result


def lookup_met(result: dict[str, Any]) -> bool:
    lat = result["latency_ms"]
    return bool(
        lat
        and lat["p50"] <= TARGET_LOOKUP_P50_MS
        and lat["p99"] <= TARGET_LOOKUP_P99_MS
        and not result["errors"]
        and result["achieved_rate"] >= 0.95 * result["offered_rate"]
    )


def verdict(ok: bool) -> str:
    return "MET" if ok else "MISSED"


async def scenario_throughput(ctx: Context) -> dict[str, Any]:
    seconds, connections = ctx.args.throughput_seconds, ctx.args.connections
    use_wrk = shutil.which("wrk") is not None and not ctx.args.no_wrk
    tool = "wrk (1 thread)" if use_wrk else "raw HTTP closed loop (no wrk here)"
    log(
        f"\n== throughput: closed loop, {connections} connections, {seconds:g}s each, {tool}: "
        "GET /healthz, then anonymous GET /v1/subjects/{code}"
    )
    results: dict[str, Any] = {"tool": tool, "connections": connections}
    code_file = ctx.workdir / "codes.txt"
    code_file.write_text("\n".join(ctx.sample.codes) + "\n")
    script = wrk_lookup_script(ctx.workdir / "lookup.lua", code_file)

    async def healthz(_i: int) -> str | None:
        reply = await ctx.raw.get("/healthz")
        return None if reply.status == 200 else f"http_{reply.status}"

    for name, path, send, lua in (
        ("healthz", "/healthz", healthz, None),
        ("lookup", "/v1/subjects/", lookup_sender(ctx), script),
    ):
        result: dict[str, Any] = {}
        if use_wrk:
            await asyncio.to_thread(run_wrk, ctx.stack.base_url + path, connections, 2, lua)
            with ctx.cpu.measure(result):
                result.update(
                    await asyncio.to_thread(
                        run_wrk, ctx.stack.base_url + path, connections, seconds, lua
                    )
                )
        else:
            await closed_loop(send, connections, 2.0)
            with ctx.cpu.measure(result):
                run = await closed_loop(send, connections, seconds)
            result.update(run_result(run))
        results[name] = result
        print_run(name, result, both=False)
    ratio = results["lookup"]["achieved_rate"] / max(results["healthz"]["achieved_rate"], 1e-9)
    results["ratio_lookup_to_healthz"] = round(ratio, 3)
    log(
        f"  lookup/healthz throughput ratio: {ratio:.1%} "
        f"(target >= {TARGET_THROUGHPUT_RATIO:.0%}): {verdict(ratio >= TARGET_THROUGHPUT_RATIO)}"
    )
    return results


_TYPO_CHARS = (
    BRAND_CHARS
    + "的一是了我不人在他有这个上们来到时大地为子中你说生国年着就那和要她出也得里后自以会"
)


def search_queries(names: Sequence[str], count: int, rng: random.Random) -> list[tuple[str, bool]]:
    """Fragments of 4-8 characters (2-4 two-character words) of real names; a quarter with
    one character mistyped."""
    queries = []
    for _ in range(count):
        name = rng.choice(names)
        length = min(len(name), rng.randint(4, 8))
        start = rng.randrange(len(name) - length + 1)
        fragment = name[start : start + length]
        typo = rng.random() < 0.25
        if typo:
            at = rng.randrange(len(fragment))
            fragment = fragment[:at] + rng.choice(_TYPO_CHARS) + fragment[at + 1 :]
        queries.append((fragment, typo))
    return queries


async def scenario_search(ctx: Context) -> dict[str, Any]:
    rate, seconds = ctx.args.search_rate, ctx.args.search_seconds
    log(
        f"\n== search: GET /v1/subjects?q=<fragment of a loaded name, 25% with a typo>, "
        f"shared-level token, open loop at {rate:g}/s for {seconds:g}s"
    )
    headers = await ctx.shared_headers()
    total = int(rate * seconds)
    queries = search_queries(ctx.sample.names, total + int(rate * 2), ctx.rng)
    found: list[int] = []

    def sender(offset: int) -> Send:
        async def send(i: int) -> str | None:
            q = queries[offset + i][0]
            reply = await ctx.http.get("/v1/subjects", params={"q": q}, headers=headers)
            if reply.status_code == 200:
                found.append(len(reply.json()["items"]))
            return status_error(reply)

        return send

    await open_loop(sender(total), rate, 2.0)  # warm-up with other queries
    found.clear()
    result: dict[str, Any] = {}
    with ctx.cpu.measure(result):
        run = await open_loop(sender(0), rate, seconds)
    result.update(run_result(run, offered=rate))
    by_kind: dict[str, list[float]] = {"exact fragment": [], "with a typo": []}
    slowest = sorted(run.extra, reverse=True)[:5]
    for latency, i in run.extra:
        by_kind["with a typo" if queries[int(i)][1] else "exact fragment"].append(latency)
    result["by_query"] = {k: summary_ms(v) | {"count": len(v)} for k, v in by_kind.items()}
    result["slowest"] = [{"q": queries[int(i)][0], "ms": round(s * 1000, 1)} for s, i in slowest]
    result["mean_items_returned"] = round(sum(found) / len(found), 1) if found else 0
    print_run("search", result)
    for kind, s in result["by_query"].items():
        log(f"    {kind} ({s['count']}): {fmt_latency(s)}")
    log(f"    items per answer (page size 50): mean {result['mean_items_returned']}")
    log("    slowest: " + ", ".join(f"{s['q']!r} {s['ms']} ms" for s in result["slowest"]))
    met = bool(result["latency_ms"]) and result["latency_ms"]["p99"] <= TARGET_SEARCH_P99_MS
    log(f"    target p99 <= {TARGET_SEARCH_P99_MS:g} ms (from scheduled time): {verdict(met)}")
    return result


def validate_batch(sample: Sample, rng: random.Random, size: int = 10_000) -> tuple[list[str], int]:
    """60% loaded unified codes, 10% loaded organisation codes, 20% valid but unknown
    unified codes, 10% invalid; returns the batch and how many are registered."""
    batch: list[str] = []
    loaded = rng.sample(sample.codes, int(size * 0.6))
    orgs = rng.sample(sample.org_codes, int(size * 0.1))
    batch += loaded + orgs
    for _ in range(int(size * 0.2)):
        body = "MC" + _base31(rng.randrange(31**6), 6)  # a range the load never uses
        division = rng.choice(DIVISIONS)[0]
        batch.append(codes.make_uscc("9", "1", division, codes.make_org_code(body)))
    while len(batch) < size:
        code = rng.choice(sample.codes)
        wrong = rng.choice([c for c in codes.USCC_ALPHABET if c != code[-1]])
        batch.append(code[:-1] + wrong)
    rng.shuffle(batch)
    return batch, len(loaded) + len(orgs)


async def scenario_validate(ctx: Context) -> dict[str, Any]:
    repeats = ctx.args.validate_repeats
    log(
        f"\n== validate: POST /v1/codes/validate with 10,000 codes, shared-level token, "
        f"{repeats} times one after another"
    )
    headers = await ctx.shared_headers()
    batches = [validate_batch(ctx.sample, ctx.rng) for _ in range(repeats + 2)]
    latencies: list[float] = []
    errors: Counter[str] = Counter()
    wrong_answers = 0
    result: dict[str, Any] = {}
    with ctx.cpu.measure(result):
        for n, (batch, registered) in enumerate(batches):
            t0 = time.perf_counter()
            reply = await ctx.http.post(
                "/v1/codes/validate", json={"codes": batch}, headers=headers
            )
            elapsed = time.perf_counter() - t0
            if reply.status_code != 200:
                errors[f"http_{reply.status_code}"] += 1
                continue
            results = reply.json()["results"]
            got = sum(1 for r in results if r.get("registered"))
            if len(results) != len(batch) or got != registered:
                wrong_answers += 1
            if n >= 2:  # the first two are warm-up
                latencies.append(elapsed)
    result.update(
        {
            "count": len(latencies),
            "ok": len(latencies),
            "errors": dict(errors),
            "offered_rate": None,
            "achieved_rate": round(len(latencies) / sum(latencies), 2) if latencies else 0.0,
            "latency_ms": summary_ms(latencies),
            "codes_per_request": 10_000,
            "answers_with_wrong_registered_count": wrong_answers,
        }
    )
    log(f"  validate: {len(latencies)} requests of 10,000 codes, errors {sum(errors.values())}")
    log(f"    latency: {fmt_latency(result['latency_ms'])}")
    log(f"    answers whose 'registered' count differed from the batch's: {wrong_answers}")
    if cpu := fmt_cpu(result):
        log(f"    {cpu}")
    lat = result["latency_ms"]
    log(
        f"    target <= {TARGET_VALIDATE_MS:g} ms: p50 {verdict(bool(lat) and lat['p50'] <= TARGET_VALIDATE_MS)}, "
        f"max {verdict(bool(lat) and lat['max'] <= TARGET_VALIDATE_MS)}"
    )
    return result


async def scenario_layers(ctx: Context) -> dict[str, Any]:
    """One request at a time through each layer, to see where the time of one call goes."""
    n = ctx.args.layer_requests
    log(
        f"\n== layers: one request at a time, {n} each (no concurrency; where one call's time goes)"
    )
    codes_ = ctx.sample.codes
    headers = await ctx.shared_headers()
    results: dict[str, Any] = {}

    async def timed(name: str, call: Callable[[int], Awaitable[object]], count: int) -> None:
        budget = time.perf_counter() + ctx.args.layer_seconds
        for i in range(min(5, count)):
            await call(i + 100_000)
        latencies = []
        for i in range(count):
            t0 = time.perf_counter()
            await call(i)
            latencies.append(time.perf_counter() - t0)
            if t0 > budget:
                break
        results[name] = summary_ms(latencies) | {"count": len(latencies)}
        log(f"  {name:<46} n={len(latencies):<4} {fmt_latency(results[name])}")

    async with grpc.aio.insecure_channel(ctx.stack.registry_address) as channel:
        stub = pb_grpc.RegistryServiceStub(channel)
        await timed("gateway GET /healthz", lambda i: ctx.http.get("/healthz"), n)
        await timed(
            "gateway GET /v1/subjects/{code} anonymous",
            lambda i: ctx.http.get(f"/v1/subjects/{codes_[i % len(codes_)]}"),
            n,
        )
        await timed(
            "gateway GET /v1/subjects/{code} shared token",
            lambda i: ctx.http.get(f"/v1/subjects/{codes_[-1 - i % len(codes_)]}", headers=headers),
            n,
        )
        await timed(
            "registry gRPC GetSubject (direct)",
            lambda i: stub.GetSubject(pb.GetSubjectRequest(code=codes_[(i * 31) % len(codes_)])),
            n,
        )
        batch, _ = validate_batch(ctx.sample, ctx.rng)
        await timed(
            "registry gRPC ValidateCodes 10,000 (direct)",
            lambda i: stub.ValidateCodes(
                pb.ValidateCodesRequest(codes=batch, check_registered=True)
            ),
            10,
        )
        await timed(
            "registry gRPC ValidateCodes 10,000, no lookup",
            lambda i: stub.ValidateCodes(
                pb.ValidateCodesRequest(codes=batch, check_registered=False)
            ),
            10,
        )
    return results


# ---------------------------------------------------------------------------------------
# The run
# ---------------------------------------------------------------------------------------


def summary_rows(results: dict[str, Any]) -> list[tuple[str, str, str, str, str]]:
    """(scenario, figures, target, verdict, errors) for the final table."""
    rows = []
    if r := results.get("lookup"):
        lat = r["latency_ms"]
        rows.append(
            (
                f"lookup @ {r['offered_rate']:g}/s",
                f"{r['achieved_rate']:.0f}/s, p50 {lat.get('p50', math.nan):.2f}, p90 {lat.get('p90', math.nan):.2f}, "
                f"p99 {lat.get('p99', math.nan):.2f}, max {lat.get('max', math.nan):.2f} ms "
                f"(from send: p50 {r['latency_from_send_ms'].get('p50', math.nan):.2f}, p99 {r['latency_from_send_ms'].get('p99', math.nan):.2f})",
                f"p50 <= {TARGET_LOOKUP_P50_MS:g}, p99 <= {TARGET_LOOKUP_P99_MS:g} ms",
                verdict(lookup_met(r)),
                str(sum(r["errors"].values())),
            )
        )
    if r := results.get("throughput"):
        h, k = r["healthz"], r["lookup"]
        rows.append(
            (
                "throughput",
                f"healthz {h['achieved_rate']:.0f}/s (p99 {h['latency_ms'].get('p99', math.nan):.1f} ms), "
                f"lookup {k['achieved_rate']:.0f}/s (p99 {k['latency_ms'].get('p99', math.nan):.1f} ms), "
                f"ratio {r['ratio_lookup_to_healthz']:.1%}",
                f"ratio >= {TARGET_THROUGHPUT_RATIO:.0%}",
                verdict(r["ratio_lookup_to_healthz"] >= TARGET_THROUGHPUT_RATIO),
                str(sum(h["errors"].values()) + sum(k["errors"].values())),
            )
        )
    if r := results.get("search"):
        lat = r["latency_ms"]
        rows.append(
            (
                f"search @ {r['offered_rate']:g}/s",
                f"{r['achieved_rate']:.0f}/s, p50 {lat.get('p50', math.nan):.1f}, p90 {lat.get('p90', math.nan):.1f}, "
                f"p99 {lat.get('p99', math.nan):.1f}, max {lat.get('max', math.nan):.1f} ms",
                f"p99 <= {TARGET_SEARCH_P99_MS:g} ms",
                verdict(bool(lat) and lat["p99"] <= TARGET_SEARCH_P99_MS),
                str(sum(r["errors"].values())),
            )
        )
    if r := results.get("validate"):
        lat = r["latency_ms"]
        rows.append(
            (
                "validate 10,000 codes",
                f"{r['count']} runs, p50 {lat.get('p50', math.nan):.1f}, p99 {lat.get('p99', math.nan):.1f}, "
                f"max {lat.get('max', math.nan):.1f} ms",
                f"<= {TARGET_VALIDATE_MS:g} ms (p50)",
                verdict(bool(lat) and lat["p50"] <= TARGET_VALIDATE_MS),
                str(sum(r["errors"].values()) + r["answers_with_wrong_registered_count"]),
            )
        )
    return rows


def print_summary(rows: list[tuple[str, str, str, str, str]], header: str) -> None:
    log(f"\n== summary ({header})")
    titles = ("scenario", "figures", "target", "verdict", "errors")
    widths = [max(len(t), *(len(r[i]) for r in rows)) for i, t in enumerate(titles)] if rows else []
    if not rows:
        log("  no scenario ran")
        return
    line = "  " + " | ".join(t.ljust(w) for t, w in zip(titles, widths, strict=True))
    log(line)
    log("  " + "-+-".join("-" * w for w in widths))
    for row in rows:
        log("  " + " | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)))


async def run_scenarios(
    args: argparse.Namespace, the_sample: Sample, workdir: Path, logs: Path
) -> dict[str, Any]:
    """Each scenario gets freshly started services, so that a backlog one scenario leaves in
    an overloaded registry cannot spill into the next one's figures."""
    chosen = SCENARIOS if args.scenario == "all" else (args.scenario,)
    runners = {
        "lookup": scenario_lookup,
        "throughput": scenario_throughput,
        "search": scenario_search,
        "validate": scenario_validate,
        "layers": scenario_layers,
    }
    limits = httpx.Limits(
        max_connections=args.connections * 4, max_keepalive_connections=args.connections * 4
    )
    results: dict[str, Any] = {}
    for name in chosen:
        await asyncio.to_thread(settle)
        busy = await asyncio.to_thread(wait_idle, args.wait_idle)
        stack = await asyncio.to_thread(start_stack, logs)
        log(
            f"\n-- services for {name}: registry pid {stack.registry.pid} on "
            f"{stack.registry_address}, gateway pid {stack.gateway.pid} on {stack.base_url}; "
            f"machine {busy:.0%} busy before"
        )
        try:
            async with httpx.AsyncClient(
                base_url=stack.base_url, limits=limits, timeout=args.request_timeout
            ) as http:
                client_id, secret = await shared_client(http, stack)
                ctx = Context(
                    args, stack, http, the_sample, CpuMeter(stack), workdir, client_id, secret
                )
                try:
                    results[name] = await runners[name](ctx)
                finally:
                    await ctx.raw.aclose()
                results[name]["machine_busy_before"] = round(busy, 3)
        except Exception as error:
            log(f"  {name} failed: {type(error).__name__}: {error}")
            results[name] = {"failed": f"{type(error).__name__}: {error}"}
        finally:
            await asyncio.to_thread(stack.stop)
    return results


def settle(timeout: float = 90) -> None:
    """Waits until no query of an earlier scenario still runs in the registry's database, so
    one scenario's backlog does not land on the next one."""
    deadline = time.monotonic() + timeout
    with psycopg.connect(pg_url(REGISTRY_DB), autocommit=True) as conn:
        while time.monotonic() < deadline:
            row = conn.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = %s AND state = 'active' "
                "AND pid <> pg_backend_pid()",
                (REGISTRY_DB,),
            ).fetchone()
            if row is not None and row[0] == 0:
                break
            time.sleep(0.5)
    time.sleep(1)


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.registry", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--subjects", type=int, default=1_000_000, help="subjects to load")
    parser.add_argument("--scenario", choices=("all", *SCENARIOS), default="all")
    parser.add_argument("--reload", action="store_true", help="load again even if already loaded")
    parser.add_argument("--lookup-rate", type=float, default=500)
    parser.add_argument("--lookup-seconds", type=float, default=10)
    parser.add_argument("--search-rate", type=float, default=50)
    parser.add_argument("--search-seconds", type=float, default=10)
    parser.add_argument("--throughput-seconds", type=float, default=8)
    parser.add_argument("--connections", type=int, default=16, help="closed-loop connections")
    parser.add_argument("--validate-repeats", type=int, default=20)
    parser.add_argument("--layer-requests", type=int, default=300)
    parser.add_argument(
        "--request-timeout", type=float, default=10, help="load generator's timeout per request"
    )
    parser.add_argument(
        "--layer-seconds", type=float, default=6, help="time cap for each layer measurement"
    )
    parser.add_argument(
        "--wait-idle",
        type=float,
        default=20,
        help="wait up to this many seconds for the machine to be idle before starting",
    )
    parser.add_argument(
        "--no-wrk", action="store_true", help="closed loop with httpx even if wrk is installed"
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    started = time.perf_counter()
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    busy = wait_idle(args.wait_idle)
    load1, load5, _ = os.getloadavg()
    header = (
        f"{args.subjects:,} subjects, {os.cpu_count()} cores shared by PostgreSQL, the registry, "
        f"the gateway and the load generator"
    )
    code = code_under_test()
    log(f"registry benchmark: {header}")
    log(
        f"code under test: commit {code['commit'] or '?'}, "
        f"{code['uncommitted_files']} uncommitted files under services/ and libs/; "
        f"10 million turns of a Python loop in {code['python_loop_s']:.2f} s on this machine"
    )
    log(
        f"before the run: machine {busy:.0%} busy over 2 s, load average {load1:.2f} (1 min), "
        f"{load5:.2f} (5 min)"
    )

    # SIGTERM ends the run like Ctrl-C, so the services are stopped on the way out.
    signal.signal(signal.SIGTERM, _interrupt)

    log("\n== data")
    load_seconds = None
    if not args.reload and loaded_count(args.subjects) is not None:
        log(f"  reusing {REGISTRY_DB}: {args.subjects:,} subjects already loaded")
        registry_bootstrap.migrate(
            RegistrySettings(database_url=pg_url(REGISTRY_DB, "postgresql+psycopg"))
        )
    else:
        log(f"  loading {args.subjects:,} subjects into {REGISTRY_DB}")
        load_seconds = load(args.subjects)
        log(f"  loaded in {load_seconds:.1f}s")
    the_sample = sample(args.subjects)
    log(f"  sampled {len(the_sample.codes):,} loaded codes and names for the requests")
    if the_sample.look_like_persons:
        log(
            f"  left out {the_sample.look_like_persons} sampled unified codes that also pass the "
            "citizen-identity check (as in earlier runs, when the registry answered 404 for "
            "them; it finds them now)"
        )

    workdir = Path(tempfile.mkdtemp(prefix="bench-registry-"))
    logs = RESULTS_DIR / f"registry-{stamp}-logs"
    logs.mkdir()
    log(f"\nservices: started afresh for each scenario; their logs go to {logs}")
    log(
        "note: the load generator (this process, and wrk if used) shares the machine's "
        f"{os.cpu_count()} cores with the services and PostgreSQL"
    )
    results: dict[str, Any] = {}
    try:
        with asyncio.Runner(loop_factory=_loop_factory()) as runner:
            results = runner.run(run_scenarios(args, the_sample, workdir, logs))
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    rows = summary_rows(results)
    print_summary(rows, header)
    out = RESULTS_DIR / f"registry-{stamp}.json"
    out.write_text(
        json.dumps(
            {
                "benchmark": "registry",
                "started_at": stamp,
                "subjects": args.subjects,
                "cores": os.cpu_count(),
                "code_under_test": code,
                "machine_busy_before": round(busy, 3),
                "load_average_before": [round(load1, 2), round(load5, 2)],
                "load_seconds": round(load_seconds, 1) if load_seconds else None,
                "arguments": vars(args),
                "latency_note": (
                    "open-loop latency_ms is measured from each request's scheduled time "
                    "(includes any queueing in the client); latency_from_send_ms from when the "
                    "client began sending it"
                ),
                "summary": [
                    dict(
                        zip(("scenario", "figures", "target", "verdict", "errors"), r, strict=True)
                    )
                    for r in rows
                ],
                "results": results,
            },
            indent=2,
            ensure_ascii=False,
        )
    )
    log(f"\nresults: {out}")
    log(f"total time {time.perf_counter() - started:.0f}s")


def busy_share(seconds: float = 2.0) -> float:
    """The share of the machine's CPU that was busy over the next few seconds."""
    busy0, total0 = _machine_cpu()
    time.sleep(seconds)
    busy1, total1 = _machine_cpu()
    return (busy1 - busy0) / max(total1 - total0, 1e-9)


def wait_idle(limit: float) -> float:
    """Waits (up to `limit` seconds) for other work on the machine to calm down: the figures
    are only worth something on an otherwise idle machine."""
    deadline = time.monotonic() + limit
    busy = busy_share()
    while busy > 0.15 and time.monotonic() < deadline:
        log(f"machine {busy:.0%} busy with other work; waiting for it to calm down")
        busy = busy_share(5.0)
    return busy


def code_under_test() -> dict[str, Any]:
    """Which code the figures are for: the commit, and files changed on top of it."""

    def git(*command: str) -> str:
        try:
            return subprocess.run(
                ["git", *command], cwd=BENCH_DIR.parent, capture_output=True, text=True, timeout=10
            ).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            return ""

    changed = git("status", "--porcelain", "--", "services", "libs").splitlines()
    return {
        "commit": git("rev-parse", "--short", "HEAD"),
        "uncommitted_files": len(changed),
        "python_loop_s": python_loop_seconds(),
    }


def python_loop_seconds() -> float:
    """Seconds this machine takes for ten million turns of a plain Python loop (best of
    three): the machines benches run on differ by up to three times in speed, and so do
    their figures."""
    best = float("inf")
    for _ in range(3):
        started = time.perf_counter()
        total = 0
        for i in range(10_000_000):
            total += i
        best = min(best, time.perf_counter() - started)
    return round(best, 3)


def _interrupt(_signum: int, _frame: object) -> None:
    raise KeyboardInterrupt


def _loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    try:
        import uvloop
    except ImportError:
        return None
    return uvloop.new_event_loop


if __name__ == "__main__":
    main()
