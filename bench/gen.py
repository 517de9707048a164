#!/usr/bin/env python3
"""Synthetic fleets for bench/run.sh (Python standard library only).

    gen.py fleet  DIR N [--plan] [--seed S]   a manager repo + N customer repos
    gen.py matrix DIR N [--seed S]            a manager with 3 environments and
                                              a registry of N GitHub customers

A fleet is laid out like examples/:

    DIR/manager/fleetform.yml, customers.yml, schema/, values/, terraform/
    DIR/customers/<slug>/infra/variables.yml [+ variables.<env>.yml]
    DIR/files/<slug>.yml        the variables files again, flat, ~1 % made
                                invalid (case 1: schema validation)
    DIR/pairs.txt               "<slug> <env>" per active customer x enabled
                                environment (what the shell peers loop over)

Customer files follow the seed shape (project_name, cloud_provider, an
environments map with staging/production, networking, tags with
{{ environment }} templates) plus the extra sections of the bench schema
(bench/schema/variables.schema.json). About a quarter of the customers have
a production override file, a tenth a staging one; 2 % are revoked and 10 %
only have staging (not with --plan, where every customer plans both). Output
is deterministic for a given seed.

Every string that YAML 1.1 would read differently from YAML 1.2 is quoted,
so js-yaml (ajv-cli), ruamel (check-jsonschema) and fleetform see the same
values.
"""

import json
import os
import random
import shutil
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

WORDS = (
    "acme globex initech umbrella hooli stark wayne wonka cyberdyne soylent "
    "tyrell oscorp aperture massive vandelay dunder pied bluth gringotts "
    "monarch prestige nakatomi virtucon gekko sirius zorg duff krusty octan"
).split()
REGIONS = ["us-east-1", "us-east-2", "us-west-2", "eu-west-1", "eu-central-1", "ap-southeast-2"]
SMALL = ["t3.micro", "t3.small", "t3.medium", "t4g.small"]
LARGE = ["m5.large", "m5.xlarge", "c5.large", "c5.xlarge", "r5.large", "m6i.large"]
DB_CLASSES = ["db.t3.medium", "db.m5.large", "db.r5.large", "db.t4g.medium"]
TEAMS = ["platform", "payments", "checkout", "search", "data", "mobile", "growth"]
DAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]


def slug_of(i):
    return f"{WORDS[i % len(WORDS)]}-{i:05d}"


def customer_yaml(r, i, slug):
    """infra/variables.yml for customer i (about 2.5 KB, 100 lines)."""
    project = f"{WORDS[(i * 7) % len(WORDS)]}-{['shop', 'api', 'portal', 'app', 'platform'][i % 5]}"
    team = r.choice(TEAMS)
    s_min = r.randint(1, 2)
    p_min = r.randint(2, 4)
    engine = r.choice(["postgres", "postgres", "mysql"])
    version = r.choice(["14.9", "15.4", "16.2"]) if engine == "postgres" else r.choice(["8.0", "8.0.35"])
    day = r.choice(DAYS)
    hour = r.randint(0, 22)
    alerts = [
        ("cpu", r.choice([70, 80, 90]), "above", "warning"),
        ("error_rate", r.choice([1, 2, 5]), "above", "critical"),
        ("latency_p99", r.choice([250, 500, 1000]), "above", "warning"),
    ][: r.randint(1, 3)]
    lines = [
        f"# Infrastructure requirements for {slug}.",
        f"project_name: {project}",
        "cloud_provider: aws",
        "",
        "owner:",
        f"  team: {team}",
        f"  email: {team}@{slug}.example",
        f'  slack_channel: "#{slug}-ops"',
        "  escalation:",
        f"    - oncall@{slug}.example",
        f"    - cto@{slug}.example",
        "",
        "environments:",
        "  staging:",
        f"    region: {r.choice(REGIONS)}",
        f"    instance_type: {r.choice(SMALL)}",
        f"    min_instances: {s_min}",
        f"    max_instances: {s_min + r.randint(1, 3)}",
        "    scaling:",
        f"      cpu_target: {r.choice([50, 60, 70])}",
        "      scale_in_cooldown: 300",
        "  production:",
        f"    region: {r.choice(REGIONS)}",
        f"    instance_type: {r.choice(LARGE)}",
        f"    min_instances: {p_min}",
        f"    max_instances: {p_min + r.randint(4, 20)}",
        "    scaling:",
        f"      cpu_target: {r.choice([55, 65, 75])}",
        "      scale_in_cooldown: 600",
        "      scale_out_cooldown: 120",
        "    database:",
        f"      instance_class: {r.choice(DB_CLASSES)}",
        "      multi_az: true",
        f"    domain: {project}.{slug}.example.net",
        "",
        "networking:",
        f'  vpc_cidr: "10.{i % 250}.0.0/16"',
        f"  availability_zones: {r.randint(2, 3)}",
        "",
        "firewall:",
        "  allowed_cidrs:",
        f'    - "203.0.{i % 250}.0/24"',
        f'    - "198.51.{(i * 3) % 250}.0/24"',
        "  ingress_ports: [443, 8443]",
        f"  waf: {'true' if i % 3 else 'false'}",
        "",
        "database:",
        f"  engine: {engine}",
        f'  version: "{version}"',
        "  instance_class: db.t3.medium",
        f"  storage_gb: {r.choice([50, 100, 200, 500])}",
        "  multi_az: false",
        f"  backup_retention_days: {r.choice([7, 14, 30])}",
        "  parameters:",
        f"    max_connections: {r.choice([100, 200, 400])}",
        '    log_min_duration_statement: "500"',
        "",
        "cache:",
        "  engine: redis",
        "  node_type: cache.t3.small",
        f"  nodes: {r.randint(1, 3)}",
        "  eviction_policy: allkeys-lru",
        "",
        "monitoring:",
        "  enabled: true",
        f"  alert_email: alerts@{slug}.example",
        f"  retention_days: {r.choice([30, 90])}",
        "  alerts:",
    ]
    for metric, threshold, comparison, severity in alerts:
        lines += [
            f"    - metric: {metric}",
            f"      threshold: {threshold}",
            f"      comparison: {comparison}",
            f"      severity: {severity}",
            "      for_minutes: 5",
        ]
    lines += [
        "",
        "dns:",
        f"  zone: {slug}.example.net",
        "  records:",
        '    - name: "api.{{ environment }}"',
        "      type: CNAME",
        '      value: "{{ project_name }}-{{ environment }}.lb.example.net"',
        "      ttl: 300",
        '    - name: "www"',
        "      type: CNAME",
        f'      value: "{project}.cdn.example.net"',
        "",
        "storage:",
        "  buckets:",
        f"    - name: {slug}-assets",
        "      versioning: true",
        f"      lifecycle_days: {r.choice([30, 90, 365])}",
        f"    - name: {slug}-logs",
        "      versioning: false",
        "      lifecycle_days: 30",
        "",
        f'maintenance_window: "{day}:{hour:02d}:00-{day}:{hour + 1:02d}:00"',
        "",
        "features:",
        f"  blue_green: {'true' if i % 2 else 'false'}",
        f"  canary: {'true' if i % 5 == 0 else 'false'}",
        "  read_replicas: false",
        "",
        "compliance: [soc2, gdpr]",
        "",
        "tags:",
        f"  customer: {slug}",
        f"  project: {project}",
        '  environment: "{{ environment }}"',
        '  name: "{{ project_name }}-{{ environment }}"',
        f"  cost_center: cc-{1000 + i % 9000}",
        f"  team: {team}",
    ]
    return "\n".join(lines) + "\n"


def override_yaml(r, env, slug):
    """infra/variables.<env>.yml: same keys as environments.<env>."""
    if env == "production":
        return (
            f"# Production overrides for {slug}.\n"
            f"instance_type: {r.choice(LARGE)}\n"
            f"max_instances: {r.randint(20, 40)}\n"
            "scaling:\n"
            "  cpu_target: 60\n"
            "tags:\n"
            f"  cost_center: cc-{r.randint(1000, 9999)}\n"
            '  release: "{{ environment }}-{{ customer }}"\n'
        )
    return (
        f"# Staging overrides for {slug}.\n"
        "instance_type: t3.micro\n"
        "min_instances: 1\n"
        "tags:\n"
        "  ephemeral: \"true\"\n"
    )


def invalidate(text, i):
    """A schema violation (a few kinds), for ~1 % of case 1's files."""
    kind = i % 4
    if kind == 0:
        return text.replace("  availability_zones: ", "  availability_zones: 1", 1)  # 12 or 13 > 6
    if kind == 1:
        return text.replace("cloud_provider: aws", "cloud_provider: aws-cloud", 1)
    if kind == 2:
        return text.replace("cache:\n", "cache:\n  replicas: 2\n", 1)  # unknown key
    return text.replace("    min_instances: ", "    min_instances: -", 1)


MANAGER_CONFIG = """\
# fleetform manager configuration (benchmark fleet, generated by bench/gen.py).
version: 1
schema: schema/variables.schema.json
registry: customers.yml
values:
  base: values/base.yml
customer:
  variables: infra/variables.yml
  overrides: infra/variables.{{environment}}.yml
environments:
{environments}
terraform:
  working_dir: terraform
  engine: terraform
  backend:
    kind: local
    state_dir: .fleetform/state
  state_key: "{{customer}}/{{environment}}/terraform.tfstate"
status_context: infra/terraform-deploy
"""

BASE_VALUES = """\
# Manager base layer: defaults for every customer and environment.
customer: "{{ customer }}"
environment: "{{ environment }}"
cloud_provider: aws
instance_type: t3.micro
min_instances: 1
max_instances: 2
networking:
  vpc_cidr: 10.0.0.0/16
  availability_zones: 2
database:
  engine: postgres
  version: "16.2"
  storage_gb: 20
  multi_az: false
  backup_retention_days: 7
monitoring:
  enabled: true
  retention_days: 30
features:
  blue_green: false
  canary: false
  read_replicas: false
tags:
  managed_by: fleetform
  customer: "{{ customer }}"
"""

ENV_VALUES = {
    "staging": "# Manager layer for staging.\nregion: us-east-1\ntags:\n  tier: staging\n",
    "production": (
        "# Manager layer for production.\nregion: us-west-2\nmin_instances: 2\n"
        "networking:\n  availability_zones: 3\ndatabase:\n  multi_az: true\n"
        "  backup_retention_days: 14\ntags:\n  tier: production\n"
    ),
    "dev": "# Manager layer for dev.\nregion: us-east-2\ntags:\n  tier: dev\n",
}

# The example root module takes the seed's variables; the bench's extra
# sections reach Terraform as `any` so plans see every value.
EXTRA_VARIABLES = [
    "owner", "firewall", "database", "cache", "monitoring", "dns", "storage",
    "maintenance_window", "features", "compliance", "scaling", "domain",
]


def manager_files(dest, envs):
    os.makedirs(os.path.join(dest, "schema"), exist_ok=True)
    os.makedirs(os.path.join(dest, "values"), exist_ok=True)
    os.makedirs(os.path.join(dest, "terraform"), exist_ok=True)
    env_block = "\n".join(
        f"  - name: {e}\n    values: values/{e}.yml\n    auto_apply: {'false' if e == 'production' else 'true'}"
        for e in envs
    )
    write(os.path.join(dest, "fleetform.yml"), MANAGER_CONFIG.format(environments=env_block))
    shutil.copy(os.path.join(HERE, "schema", "variables.schema.json"), os.path.join(dest, "schema"))
    write(os.path.join(dest, "values", "base.yml"), BASE_VALUES)
    for e in envs:
        write(os.path.join(dest, "values", f"{e}.yml"), ENV_VALUES[e])
    with open(os.path.join(ROOT, "examples", "manager", "terraform", "main.tf")) as f:
        tf = f.read()
    tf += "\n# Extra sections of the benchmark schema.\n"
    for v in EXTRA_VARIABLES:
        tf += f'variable "{v}" {{\n  type    = any\n  default = null\n}}\n\n'
    write(os.path.join(dest, "terraform", "main.tf"), tf)


def registry_entry(slug, envs, added, with_path, revoked):
    lines = [
        f"  - slug: {slug}",
        f"    repo: {slug}/infra",
    ]
    if with_path:
        lines.append(f"    path: ../customers/{slug}")
    lines += [
        f"    contact: ops@{slug}.example",
        f"    environments: [{', '.join(envs)}]",
        f"    status: {'revoked' if revoked else 'active'}",
        f"    added: {added}",
    ]
    if revoked:
        lines += ["    revoked:", "      date: 2026-09-30", "      reason: contract ended"]
    return "\n".join(lines) + "\n"


def write(path, text):
    with open(path, "w") as f:
        f.write(text)


def gen_fleet(dest, n, plan, seed):
    r = random.Random(seed)
    if os.path.exists(dest):
        shutil.rmtree(dest)
    manager_files(os.path.join(dest, "manager"), ["staging", "production"])
    os.makedirs(os.path.join(dest, "files"))
    registry = ["# Customer registry (benchmark fleet, generated by bench/gen.py).\ncustomers:\n"]
    pairs = []
    invalid = 0
    for i in range(1, n + 1):
        slug = slug_of(i)
        revoked = not plan and i % 50 == 17
        envs = ["staging"] if (not plan and i % 10 == 3) else ["staging", "production"]
        added = f"2026-{1 + i % 12:02d}-{1 + i % 28:02d}"
        registry.append(registry_entry(slug, envs, added, True, revoked))
        infra = os.path.join(dest, "customers", slug, "infra")
        os.makedirs(infra)
        text = customer_yaml(r, i, slug)
        write(os.path.join(infra, "variables.yml"), text)
        if i % 4 == 1:
            write(os.path.join(infra, "variables.production.yml"), override_yaml(r, "production", slug))
        if i % 10 == 7:
            write(os.path.join(infra, "variables.staging.yml"), override_yaml(r, "staging", slug))
        if i % 100 == 42:
            text = invalidate(text, i // 100)
            invalid += 1
        write(os.path.join(dest, "files", f"{slug}.yml"), text)
        if not revoked:
            pairs += [f"{slug} {e}" for e in envs]
    write(os.path.join(dest, "manager", "customers.yml"), "".join(registry))
    write(os.path.join(dest, "pairs.txt"), "\n".join(pairs) + "\n")
    meta = {"customers": n, "pairs": len(pairs), "invalid_files": invalid, "seed": seed}
    write(os.path.join(dest, "fleet.json"), json.dumps(meta) + "\n")
    return meta


def gen_matrix(dest, n, seed):
    if os.path.exists(dest):
        shutil.rmtree(dest)
    envs = ["dev", "staging", "production"]
    manager_files(os.path.join(dest, "manager"), envs)
    registry = ["# Customer registry (benchmark, generated by bench/gen.py).\ncustomers:\n"]
    for i in range(1, n + 1):
        added = f"2026-{1 + i % 12:02d}-{1 + i % 28:02d}"
        registry.append(registry_entry(slug_of(i), envs, added, False, False))
    write(os.path.join(dest, "manager", "customers.yml"), "".join(registry))
    meta = {"customers": n, "environments": len(envs), "pairs": n * len(envs), "seed": seed}
    write(os.path.join(dest, "fleet.json"), json.dumps(meta) + "\n")
    return meta


def main(argv):
    if len(argv) < 3 or argv[0] not in ("fleet", "matrix"):
        sys.exit(__doc__)
    kind, dest, n = argv[0], argv[1], int(argv[2])
    seed = 7
    if "--seed" in argv:
        seed = int(argv[argv.index("--seed") + 1])
    if kind == "fleet":
        meta = gen_fleet(dest, n, "--plan" in argv, seed)
    else:
        meta = gen_matrix(dest, n, seed)
    print(json.dumps(meta))


if __name__ == "__main__":
    main(sys.argv[1:])
