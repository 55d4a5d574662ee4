"""Split scikit-learn's bundled breast-cancer data into train and test arrays."""

import numpy as np
from sklearn.datasets import load_breast_cancer
from sklearn.model_selection import train_test_split

from mvctl import step

params = step.params()
data = load_breast_cancer()
X_train, X_test, y_train, y_test = train_test_split(
    data.data,
    data.target,
    test_size=params["test_size"],
    random_state=params["seed"],
    stratify=data.target,
)
step.progress(0.5, rows=len(data.target))
np.savez(step.output("train.npz"), X_train=X_train, y_train=y_train, X_test=X_test, y_test=y_test)
step.progress(1.0)
