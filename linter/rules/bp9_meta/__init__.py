"""BP9xx: rules about bplint itself (no misconception behind them, so no KB entry).

One rule per module; the registry imports every module of this package."""
