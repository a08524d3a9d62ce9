"""The officials' web map's server side: map views, search, heat points and exports."""
