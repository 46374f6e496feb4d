"""Small models trained on scikit-learn's bundled digits data, shipped with their weights."""
