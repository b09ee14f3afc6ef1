"""The bare baselines pm is compared with, measured in the same run."""
