"""hotspots Streamlit app (user interface only; all analysis lives in the hotspots package)."""

import streamlit as st

st.set_page_config(page_title="hotspots", layout="wide")
st.title("hotspots")
st.write("The app is being built; see the README for the command line.")
