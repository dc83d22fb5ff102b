"""The risk service (`service.RiskService`): VaR/ES, stress tests and limits over HTTP."""
