"""Operations suite for organized-gateway."""
