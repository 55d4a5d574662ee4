"""Split scikit-learn's bundled 8x8 digits into train and test arrays, pixels scaled to [0, 1]."""

import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

from mvctl import step

params = step.params()
digits = load_digits()
pixels = (digits.data / 16.0).astype(np.float32)
X_train, X_test, y_train, y_test = train_test_split(
    pixels,
    digits.target,
    test_size=params["test_size"],
    random_state=params["seed"],
    stratify=digits.target,
)
step.progress(0.5, rows=len(digits.target))
np.savez(step.output("train.npz"), X_train=X_train, y_train=y_train, X_test=X_test, y_test=y_test)
step.progress(1.0)
