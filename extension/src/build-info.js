// Written by build.py: what kind of build this is.
export const BUILD = Object.freeze({dev: false, devOrigins: [], family: "chromium"});
