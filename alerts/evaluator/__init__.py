"""The pure alert evaluator (``alerts.evaluator.evaluator``)."""

from alerts.evaluator.evaluator import Evaluator, WindowKey

__all__ = ["Evaluator", "WindowKey"]
