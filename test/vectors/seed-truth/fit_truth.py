#!/usr/bin/env python3
"""Fits the sichuan scenario's documented ground-truth models with statsmodels.

Generates the sample with the built CLI (`fedstat seed --scenario sichuan --rows 50000 --seed
seed-truth`), fits

  * a logistic GLM of I(insured == '是') ~ age + sex + sector + district + monthly_income
    + months_resident on social_insurance (every city), and
  * a Poisson GLM of the registrations per district and arrival month (every cell of the
    22 districts x 300 months, zeros included) ~ district + arrival_month,

with every category column treatment-coded against its first value in seeds/sichuan/schema.json,
prints each coefficient beside the truth from seeds/sichuan/scenario.json, and writes
fit.json beside this script: the known answer test/seed/ground-truth.test.ts checks its own
Newton fit of the same sample against.

Run once, when the scenario or the generator changes, and commit fit.json:

    npm run build && pip install statsmodels && python3 test/vectors/seed-truth/fit_truth.py
"""

import csv
import json
import math
import os
import platform
import subprocess
import sys
import tempfile

import numpy as np
import statsmodels
import statsmodels.api as sm

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", "..", ".."))
SCENARIO_DIR = os.path.join(ROOT, "seeds", "sichuan")
ROWS = 50000
SEED = "seed-truth"


def node() -> str:
    """The Node 22 the repository pins (node-seal needs it), else the one on PATH."""
    pinned = os.path.join(ROOT, "node_modules", ".bin", "node")
    return pinned if os.path.exists(pinned) else "node"


def read_csv(path):
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def design(rows, terms, intercept_truth):
    """Columns of a treatment-coded design matrix, named as R's glm names them."""
    names, truth, cols = ["(Intercept)"], [intercept_truth], [np.ones(len(rows))]
    for column, kind, coef in terms:
        if kind == "integer":
            names.append(column)
            truth.append(coef)
            cols.append(np.array([float(r[column]) for r in rows]))
        else:
            values = np.array([r[column] for r in rows])
            for level in kind[1:]:
                names.append(f"{column}{level}")
                truth.append(coef[level])
                cols.append((values == level).astype(float))
    return names, truth, np.column_stack(cols)


def fit(y, x, family):
    return sm.GLM(y, x, family=family).fit(method="IRLS", tol=1e-14, maxiter=200)


def table(title, names, truth, res):
    print(f"\n{title}")
    print(f"{'term':<22}{'truth':>12}{'estimate':>12}{'stderr':>11}{'z':>8}")
    for name, t, b, se in zip(names, truth, res.params, res.bse):
        print(f"{name:<22}{t:>12.6g}{b:>12.6g}{se:>11.3g}{(b - t) / se:>8.2f}")
    print(f"n {int(res.nobs)}, deviance {res.deviance:.6f}, converged {res.converged}")


def terms_json(names, truth, res):
    return [
        {"term": n, "truth": t, "estimate": float(b), "stderr": float(se)}
        for n, t, b, se in zip(names, truth, res.params, res.bse)
    ]


def main():
    with open(os.path.join(SCENARIO_DIR, "scenario.json"), encoding="utf-8") as f:
        scenario = json.load(f)
    with open(os.path.join(SCENARIO_DIR, "schema.json"), encoding="utf-8") as f:
        schema = json.load(f)["datasets"]
    levels = lambda dataset, column: schema[dataset]["columns"][column]["values"]

    with tempfile.TemporaryDirectory() as out:
        cli = os.path.join(ROOT, "dist", "src", "cli", "main.js")
        args = [node(), cli, "seed", "--scenario", "sichuan", "--rows", str(ROWS), "--seed", SEED, "--out", out, "--json"]
        manifest = json.loads(subprocess.run(args, check=True, capture_output=True, text=True).stdout)
        data = {}
        for agency in manifest["agencies"]:
            for dataset, info in agency["datasets"].items():
                data.setdefault(dataset, []).extend(read_csv(os.path.join(out, info["file"])))

    # insured: the logistic model of groundTruth.insured.
    m = scenario["groundTruth"]["insured"]
    si = data["social_insurance"]
    names, truth, x = design(si, [
        ("age", "integer", m["age"]),
        ("sex", levels("social_insurance", "sex"), m["sex"]),
        ("sector", levels("social_insurance", "sector"), m["sector"]),
        ("district", levels("social_insurance", "district"), m["district"]),
        ("monthly_income", "integer", m["monthly_income"]),
        ("months_resident", "integer", m["months_resident"]),
    ], m["intercept"])
    y = np.array([1.0 if r["insured"] == "是" else 0.0 for r in si])
    logit = fit(y, x, sm.families.Binomial())
    table("insured: logistic GLM of I(insured == '是')", names, truth, logit)
    insured = {"family": "binomial", "link": "logit",
               "formula": "I(insured == '是') ~ age + sex + sector + district + monthly_income + months_resident",
               "n": int(logit.nobs), "deviance": float(logit.deviance), "converged": bool(logit.converged),
               "terms": terms_json(names, truth, logit)}

    # arrivals: the Poisson model of groundTruth.arrivals, on the counts per district and month.
    a = scenario["groundTruth"]["arrivals"]
    districts = levels("residence_registrations", "district")
    months = schema["residence_registrations"]["columns"]["arrival_month"]["max"] + 1
    counts = {}
    for r in data["residence_registrations"]:
        key = (r["district"], int(r["arrival_month"]))
        counts[key] = counts.get(key, 0) + 1
    cells = [{"district": d, "arrival_month": t} for d in districts for t in range(months)]
    # The truth: a district's expected registrations in month t are its city's registrations x
    # its share of the city's district weight x the month's share e^(g t) / sum_s e^(g s).
    persons = [ag["datasets"]["residence_registrations"]["rows"] for ag in manifest["agencies"]
               if ag["department"] == "public-security"]
    month_total = sum(math.exp(a["trendPerMonth"] * t) for t in range(months))
    log_rate = {}
    for city, n in zip(scenario["cities"], persons):
        w = sum(d["weight"] for d in city["districts"])
        for d in city["districts"]:
            log_rate[d["name"]] = math.log(n * d["weight"] / w / month_total)
    effects = {d: log_rate[d] - log_rate[districts[0]] for d in districts}
    names_p, truth_p, xp = design(cells, [
        ("district", districts, effects),
        ("arrival_month", "integer", a["trendPerMonth"]),
    ], log_rate[districts[0]])
    yp = np.array([float(counts.get((c["district"], c["arrival_month"]), 0)) for c in cells])
    poisson = fit(yp, xp, sm.families.Poisson())
    table("arrivals: Poisson GLM of registrations per district and arrival month", names_p, truth_p, poisson)
    arrivals = {"family": "poisson", "link": "log", "formula": "registrations ~ district + arrival_month",
                "n": int(poisson.nobs), "deviance": float(poisson.deviance), "converged": bool(poisson.converged),
                "terms": terms_json(names_p, truth_p, poisson)}

    doc = {
        "source": (f"test/vectors/seed-truth/fit_truth.py: statsmodels {statsmodels.__version__} GLM (IRLS, tol 1e-14), "
                   f"numpy {np.__version__}, Python {platform.python_version()}, on the sample below"),
        "sample": {"scenario": "sichuan", "rows": ROWS, "seed": SEED},
        "insured": insured,
        "arrivals": arrivals,
    }
    with open(os.path.join(HERE, "fit.json"), "w", encoding="utf-8") as f:
        json.dump(doc, f, ensure_ascii=False, indent=2)
        f.write("\n")
    print(f"\nwrote {os.path.relpath(os.path.join(HERE, 'fit.json'), ROOT)}")


if __name__ == "__main__":
    sys.exit(main())
