#!/usr/bin/env python3
"""Known-answer vectors for fedstat's generalized linear models (src/learn/).

Run once, commit the output:  pip install statsmodels && python3 test/vectors/glm/make_vectors.py

Writes test/vectors/glm/{insurance,arrivals}.json: a dataset (schema and rows, generated
deterministically from a fixed seed) and, per case, a formula, a family and the expected fit:
estimates, standard errors, z (t for gaussian), p, deviance, null deviance, AIC, residual
degrees of freedom and dispersion, with coefficient names as R prints them (`sector建筑业`,
`age:sex女`, `(Intercept)`).

Sources:
- unpenalised fits: statsmodels GLM (IRLS, tolerance 1e-13), its formula interface building the
  design (categories in schema order, so the first schema value is the reference level, as R);
- p-values: scipy (normal for binomial and poisson, Student t with n - p df for gaussian), as R's
  summary.glm; AIC by R's formulas (family$aic + 2p), computed here from the fitted means;
- ridge fits: statsmodels has no penalised fit with standard errors in fedstat's definition, so a
  direct Newton iteration in numpy computes them, with the penalty fedstat implements
  (src/learn/newton.ts): maximise loglik(b') - (lam/2) * sum of b'_j^2 over the non-intercept
  coefficients of the internally scaled design, where each integer main effect enters as
  (x - (min+max)/2) / ((max-min)/2) with the schema's bounds; standard errors from the sandwich
  A^-1 I A^-1 (A = I + lam*D), mapped back to the original scale.
"""
import json
import math
import os
import re

import numpy as np
import pandas as pd
import scipy.stats as st
import statsmodels
import statsmodels.api as sm
import statsmodels.formula.api as smf

SEED = 20261205
HERE = os.path.dirname(os.path.abspath(__file__))
FAMILIES = {'binomial': sm.families.Binomial, 'gaussian': sm.families.Gaussian, 'poisson': sm.families.Poisson}


def insurance(rng):
    """A social-insurance register: a logistic model of insured, a linear model of a score."""
    schema = {
        'columns': {
            'citizen_id': {'type': 'id', 'format': 'text'},
            'age': {'type': 'integer', 'min': 16, 'max': 120},
            'sex': {'type': 'category', 'values': ['男', '女']},
            'sector': {'type': 'category', 'values': ['制造业', '建筑业', '批发零售', '信息技术']},
            'monthly_income': {'type': 'integer', 'min': 0, 'max': 100000},
            'months': {'type': 'integer', 'min': 0, 'max': 240},
            'insured': {'type': 'category', 'values': ['是', '否']},
            'employed': {'type': 'integer', 'min': 0, 'max': 1},
            'score': {'type': 'integer', 'min': -1000, 'max': 1000},
        }
    }
    n = 600
    age = rng.integers(18, 66, n)
    sex = rng.choice(['男', '女'], n)
    sector = rng.choice(['制造业', '建筑业', '批发零售', '信息技术'], n, p=[0.35, 0.25, 0.25, 0.15])
    income = np.round(np.exp(rng.normal(8.8, 0.5, n))).astype(int).clip(0, 100000)
    months = rng.integers(0, 241, n)
    female = (sex == '女').astype(float)
    sec = {'制造业': 0.0, '建筑业': -0.6, '批发零售': 0.2, '信息技术': 0.8}
    eta = -0.8 + 0.03 * (age - 40) + 0.4 * female + np.array([sec[s] for s in sector]) + 0.00006 * (income - 7000)
    insured = np.where(rng.random(n) < 1 / (1 + np.exp(-eta)), '是', '否')
    employed = (rng.random(n) < 1 / (1 + np.exp(-(0.5 - 0.02 * (age - 40) + 0.3 * female)))).astype(int)
    score = np.round(50 + 2.0 * (age - 40) - 15 * female + 0.5 * months + 0.04 * (age - 40) * (months - 120)
                     + 6 * female * (age - 40) / 10 + rng.normal(0, 40, n)).astype(int).clip(-1000, 1000)
    rows = [{'citizen_id': f'id{i:05d}', 'age': int(age[i]), 'sex': str(sex[i]), 'sector': str(sector[i]),
             'monthly_income': int(income[i]), 'months': int(months[i]), 'insured': str(insured[i]),
             'employed': int(employed[i]), 'score': int(score[i])} for i in range(n)]
    return schema, rows


def arrivals(rng):
    """Arrivals per district and month against the district's population: a Poisson model."""
    districts = ['锦江区', '青羊区', '金牛区', '武侯区', '成华区']
    schema = {
        'columns': {
            'district': {'type': 'category', 'values': districts},
            'month': {'type': 'integer', 'min': 1, 'max': 12},
            'population': {'type': 'integer', 'min': 1, 'max': 100000},
            'arrivals': {'type': 'integer', 'min': 0, 'max': 100000},
        }
    }
    rows = []
    effect = {'锦江区': 0.0, '青羊区': 0.3, '金牛区': -0.2, '武侯区': 0.5, '成华区': -0.4}
    for rep in range(6):
        for d in districts:
            for m in range(1, 13):
                pop = int(rng.integers(2000, 60000))
                mu = pop / 1000 * math.exp(0.2 + effect[d] + 0.04 * m)
                rows.append({'district': d, 'month': m, 'population': pop, 'arrivals': int(rng.poisson(mu))})
    return schema, rows


def frame(schema, rows):
    df = pd.DataFrame(rows)
    for name, col in schema['columns'].items():
        if col['type'] == 'category':
            df[name] = pd.Categorical(df[name], categories=col['values'])
    return df


def r_name(name, order):
    """statsmodels' `sex[T.女]:age` as R's `sex女:age`, factors in the formula's variable order."""
    if name == 'Intercept':
        return '(Intercept)'
    parts = []
    for part in name.split(':'):
        variable = part.split('[')[0]
        parts.append((order.index(variable), re.sub(r'^(\w+)\[(?:T\.)?(.+)\]$', r'\1\2', part)))
    return ':'.join(label for _, label in sorted(parts))


def unit_deviance(family, y, mu):
    if family == 'binomial':
        return -2 * (y * np.log(mu) + (1 - y) * np.log(1 - mu))
    if family == 'poisson':
        return 2 * (np.where(y > 0, y * np.log(np.where(y > 0, y, 1) / mu), 0) - (y - mu))
    return (y - mu) ** 2


def null_deviance(family, y, offset, intercept):
    """R's null deviance: the intercept-only fit (with the offset), or η = offset without an intercept."""
    off = np.zeros(len(y)) if offset is None else offset
    if not intercept:
        mu0 = {'binomial': 1 / (1 + np.exp(-off)), 'poisson': np.exp(off), 'gaussian': off}[family]
    elif family == 'poisson':
        mu0 = np.exp(off) * y.sum() / np.exp(off).sum()  # exact for the log link
    else:
        assert offset is None
        mu0 = np.full(len(y), y.mean())
    return float(np.sum(unit_deviance(family, y, mu0)))


def variable_order(rhs):
    order = []
    for v in re.findall(r'[A-Za-z_]\w*', rhs):
        if v not in order and v not in ('offset', 'log'):
            order.append(v)
    return order


def aic_r(family, y, mu, dev, n, p):
    if family == 'binomial':
        return float(-2 * np.sum(st.binom.logpmf(y, 1, mu)) + 2 * p)
    if family == 'poisson':
        return float(-2 * np.sum(st.poisson.logpmf(y, mu)) + 2 * p)
    return float(n * (math.log(2 * math.pi * dev / n) + 1) + 2 + 2 * p)


def table(family, names, est, se, df_resid):
    z = est / se
    p = 2 * st.t.sf(np.abs(z), df_resid) if family == 'gaussian' else 2 * st.norm.sf(np.abs(z))
    return {n: {'estimate': float(e), 'stderr': float(s), 'z': float(zz), 'p': float(pp)} for n, e, s, zz, pp in zip(names, est, se, z, p)}


def fit_case(schema, rows, case):
    df = frame(schema, rows)
    family = case['family']
    lhs, rhs = case['formula'].split('~')
    lhs = lhs.strip()
    m = re.match(r"^(\w+) == '(.+)'$", lhs)
    if m:
        df['_y'] = (df[m.group(1)] == m.group(2)).astype(int)
    elif schema['columns'][lhs]['type'] == 'category':
        df['_y'] = (df[lhs] == schema['columns'][lhs]['values'][1]).astype(int)
    else:
        df['_y'] = df[lhs].astype(float)
    off = re.search(r'\+\s*offset\(log\((\w+)\)\)', rhs)
    sm_rhs = re.sub(r'\+\s*offset\(log\(\w+\)\)', '', rhs)
    offset = np.log(df[off.group(1)].to_numpy(float)) if off else None
    kwargs = {'offset': offset} if offset is not None else {}
    res = smf.glm('_y ~' + sm_rhs, df, family=FAMILIES[family](), **kwargs).fit(tol=1e-13, maxiter=200)
    names = [r_name(n, variable_order(sm_rhs)) for n in res.params.index]
    y = df['_y'].to_numpy(float)
    intercept = '(Intercept)' in names
    if 'ridge' in case:
        return ridge_case(schema, case, res, names, y, offset, intercept)
    n, p = len(y), len(names)
    dev = float(res.deviance)
    null_dev = null_deviance(family, y, offset, intercept)
    if intercept and offset is None:
        assert abs(null_dev - res.null_deviance) < 1e-8 * null_dev
    return {
        'coefficients': table(family, names, res.params.to_numpy(), res.bse.to_numpy(), n - p),
        'deviance': dev,
        'nullDeviance': null_dev,
        'aic': aic_r(family, y, res.fittedvalues.to_numpy(), dev, n, p),
        'dfResidual': n - p,
        'dispersion': float(res.scale),
        'n': n,
    }


def ridge_case(schema, case, res, names, y, offset, intercept):
    """Direct Newton on the penalised log-likelihood, in fedstat's internal scale (module docstring)."""
    lam = case['ridge']
    family = case['family']
    x = res.model.exog.copy()
    n, p = x.shape
    # The linear map x' = M x for this formula's integer main effects (with an intercept: centred).
    mmat = np.eye(p)
    for j, name in enumerate(names):
        col = schema['columns'].get(name)
        if col is not None and col['type'] == 'integer':
            c, s = (col['min'] + col['max']) / 2, (col['max'] - col['min']) / 2
            mmat[j, j] = 1 / s
            mmat[j, 0] = -c / s
    xs = x @ mmat.T
    pen = np.ones(p)
    pen[0] = 0
    b = np.zeros(p)
    off = np.zeros(n) if offset is None else offset

    def parts(b):
        eta = xs @ b + off
        if family == 'binomial':
            mu = 1 / (1 + np.exp(-eta))
            w = mu * (1 - mu)
            dev = 2 * np.sum(np.where(y == 1, np.logaddexp(0, -eta), np.logaddexp(0, eta)))
        elif family == 'poisson':
            mu = np.exp(eta)
            w = mu
            dev = 2 * np.sum(np.where(y > 0, y * (np.log(np.where(y > 0, y, 1)) - eta), 0) - (y - mu))
        else:
            mu, w = eta, np.ones(n)
            dev = np.sum((y - mu) ** 2)
        return mu, w, dev

    for _ in range(200):
        mu, w, dev = parts(b)
        info = xs.T @ (w[:, None] * xs)
        g = xs.T @ (y - mu) - lam * pen * b
        step = np.linalg.solve(info + lam * np.diag(pen), g)
        b = b + step
        if np.max(np.abs(step)) < 1e-14:
            break
    mu, w, dev = parts(b)
    info = xs.T @ (w[:, None] * xs)
    a_inv = np.linalg.inv(info + lam * np.diag(pen))
    phi = dev / (n - p) if family == 'gaussian' else 1.0
    cov_s = phi * a_inv @ info @ a_inv
    est = mmat.T @ b
    cov = mmat.T @ cov_s @ mmat
    se = np.sqrt(np.diag(cov))
    null_dev = null_deviance(family, y, offset, intercept)
    return {
        'coefficients': table(family, names, est, se, n - p),
        'deviance': float(dev),
        'nullDeviance': float(null_dev),
        'aic': aic_r(family, y, mu, dev, n, p),
        'dfResidual': n - p,
        'dispersion': float(phi),
        'n': n,
    }


def write(name, schema, rows, cases):
    out = {
        'source': f'test/vectors/glm/make_vectors.py (seed {SEED}): statsmodels {statsmodels.__version__} GLM, '
                  f'numpy {np.__version__} Newton for the ridge cases, scipy for p-values',
        'dataset': name,
        'schema': schema,
        'rows': rows,
        'cases': [{**c, 'expected': fit_case(schema, rows, c)} for c in cases],
    }
    with open(os.path.join(HERE, f'{name}.json'), 'w', encoding='utf-8') as f:
        json.dump(out, f, ensure_ascii=False, indent=1)
        f.write('\n')


def distributions():
    """Reference values of the two-sided normal and t p-values (scipy), for distributions.ts."""
    zs = [0, 0.1, 0.5, 1, 1.5, 1.959963984540054, 2.5, 3, 5, 8, 12, 20, 30, 37]
    ts = [[0.5, 3], [2, 10], [1.96, 1000], [5, 20], [10, 5], [0.01, 100], [3, 1e6], [40, 30], [2.5, 1], [1, 2],
          [4, 1e7], [0.001, 5], [7, 600], [25, 40]]
    out = {
        'source': f'scipy {__import__("scipy").__version__}: 2*norm.sf(|z|), 2*t.sf(|t|, df)',
        'normal': [{'z': z, 'p': float(2 * st.norm.sf(z))} for z in zs],
        't': [{'t': t, 'df': d, 'p': float(2 * st.t.sf(t, d))} for t, d in ts],
    }
    with open(os.path.join(HERE, 'distributions.json'), 'w', encoding='utf-8') as f:
        json.dump(out, f, indent=1)
        f.write('\n')


def main():
    rng = np.random.default_rng(SEED)
    schema, rows = insurance(rng)
    write('insurance', schema, rows, [
        {'name': 'binomial, category event', 'family': 'binomial',
         'formula': "insured == '是' ~ age + sex + sector + monthly_income"},
        {'name': 'binomial, 0/1 integer response', 'family': 'binomial', 'formula': 'employed ~ age + sex'},
        {'name': 'binomial, interactions', 'family': 'binomial',
         'formula': "insured == '是' ~ age + sex + sector + age:sex + sex:sector"},
        {'name': 'binomial, no intercept', 'family': 'binomial', 'formula': "insured == '是' ~ sector + age - 1"},
        {'name': 'binomial, ridge', 'family': 'binomial', 'ridge': 5.0,
         'formula': "insured == '是' ~ age + sex + sector + monthly_income"},
        {'name': 'gaussian', 'family': 'gaussian', 'formula': 'score ~ age + sex + sector + months'},
        {'name': 'gaussian, interactions', 'family': 'gaussian',
         'formula': 'score ~ age + months + sex + sector + age:months + age:sex'},
        {'name': 'gaussian, interaction without its main effect', 'family': 'gaussian', 'formula': 'score ~ sex + age:sex'},
        {'name': 'gaussian, no intercept', 'family': 'gaussian', 'formula': 'score ~ sector + age - 1'},
        {'name': 'gaussian, ridge', 'family': 'gaussian', 'ridge': 50.0, 'formula': 'score ~ age + sex + sector + months'},
    ])
    schema, rows = arrivals(rng)
    write('arrivals', schema, rows, [
        {'name': 'poisson', 'family': 'poisson', 'formula': 'arrivals ~ district + month'},
        {'name': 'poisson, offset', 'family': 'poisson', 'formula': 'arrivals ~ district + month + offset(log(population))'},
        {'name': 'poisson, offset, no intercept', 'family': 'poisson',
         'formula': 'arrivals ~ district + month + offset(log(population)) - 1'},
    ])
    distributions()


if __name__ == '__main__':
    main()
