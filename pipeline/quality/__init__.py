"""Quality assessment: the free local technical stage and the cascade that combines it with paid stages."""
