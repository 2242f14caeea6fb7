"""Tests of the cross-tool links, stability and delivery (docs/contract.md §6); helpers are
imported as `tests.stability.<module>` like every other test folder's."""
