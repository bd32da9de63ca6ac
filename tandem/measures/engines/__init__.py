"""Engines that evaluate the measure language: in-memory (the oracle), SQL dialects, Spark."""
