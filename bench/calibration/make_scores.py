#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Real labelled data for the calibration bench: scikit-learn's bundled handwritten digits
(1,797 8x8 images, 10 classes; Debian's python3-sklearn ships them, nothing is downloaded) and
three models, each scored out of fold (5-fold cross_val_predict), so every image gets
probabilities from a model that never saw it.

Writes DIR/<model>.csv, one line per image: label,p0,...,p9 (the model's class probabilities).
Usage: make_scores.py DIR"""
import os
import sys

import numpy as np
from sklearn.datasets import load_digits
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold, cross_val_predict
from sklearn.naive_bayes import GaussianNB
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

MODELS = {
    # A good, fairly calibrated model.
    "logreg": lambda: make_pipeline(StandardScaler(), LogisticRegression(C=0.05, max_iter=2000)),
    # Probabilities in steps of 1/100, many ties at the top.
    "forest": lambda: RandomForestClassifier(n_estimators=100, min_samples_leaf=2, random_state=1),
    # A weak, badly overconfident model: most scores are 1.0 to double precision.
    "bayes": lambda: GaussianNB(),
}


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else "."
    os.makedirs(out, exist_ok=True)
    x, y = load_digits(return_X_y=True)
    folds = StratifiedKFold(n_splits=5, shuffle=True, random_state=7)
    for name, make in MODELS.items():
        probs = cross_val_predict(make(), x, y, cv=folds, method="predict_proba")
        pred = probs.argmax(axis=1)
        with open(os.path.join(out, name + ".csv"), "w") as f:
            for label, p in zip(y, probs):
                f.write("%d,%s\n" % (label, ",".join(repr(float(v)) for v in p)))
        print("%s: %d images, accuracy %.4f, mean top score %.4f" % (
            name, len(y), float(np.mean(pred == y)), float(np.mean(probs.max(axis=1)))),
            file=sys.stderr)


if __name__ == "__main__":
    main()
