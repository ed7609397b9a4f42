"""Coverage: articles that outlets published, found by URL or in their feeds."""
