"""certmodel"""
